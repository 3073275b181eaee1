// views/thread.js: one conversation (#/inbox/<id>): its messages with
// live delivery ticks, failures with their reason and a retry, the service
// window's remaining time, a reply box inside the window and a template
// picker after it, and the assign / unassign / close actions.
import { h, replace, text } from '../dom.js';
import { newKey } from '../api.js';
import { time } from '../store.js';
import { customerName, loadCustomer } from './customers.js';
import { mountComposer } from './composer.js';
import { mediaView } from './media.js';

const TICKS = { queued: '⏱', sent: '✓', delivered: '✓✓', read: '✓✓', failed: '✗' };
const TICK_LABEL = { queued: 'queued', sent: 'sent', delivered: 'delivered', read: 'read', failed: 'failed' };

export function mountThread(ctx, id) {
  const { api, store, ws, user } = ctx;
  const canAssign = (user.permissions || []).includes('conversations:assign') || user.role === 'supervisor' || user.role === 'admin';
  let conv = store.conversations.get(id) || null;
  let nextCursor = '';
  let loadingOlder = false;
  let destroyed = false;

  const title = h('h2', { class: 'thread-title' });
  const stateBadge = h('span', { class: 'state-badge' });
  const windowEl = h('span', { class: 'window', 'data-test': 'window-remaining', 'data-open': 'false' });
  const actions = h('div', { class: 'thread-actions' });
  const notice = h('p', { class: 'error', role: 'alert', hidden: true });
  const list = h('ol', { class: 'messages', 'aria-live': 'polite', 'aria-label': 'Messages' });
  const scroller = h('div', { class: 'message-scroll', on: { scroll: onScroll } }, list);
  const composerSlot = h('div', { class: 'composer-slot' });
  const el = h('article', { class: 'thread', 'data-test': 'thread', 'data-conversation-id': id, 'data-state': (conv && conv.state) || '' },
    h('header', { class: 'thread-head' },
      h('a', { class: 'back', href: '#/inbox', 'aria-label': 'Back to the list' }, '‹'),
      h('div', { class: 'thread-who' }, title, h('div', { class: 'thread-meta' }, stateBadge, windowEl)),
      actions),
    notice, scroller, composerSlot);

  const rows = new Map(); // message id → li
  const retried = new Set(); // failed messages sent again from this thread
  let composer = null;
  let composerMode = '';

  function show(msg) {
    text(notice, msg || '');
    notice.hidden = !msg;
  }

  function windowOpen() {
    if (!conv || !conv.expiresAt) return false;
    if (conv.state !== 'new' && conv.state !== 'active') return false;
    return new Date(conv.expiresAt).getTime() > Date.now();
  }

  function paintWindow() {
    const open = windowOpen();
    windowEl.setAttribute('data-open', String(open));
    if (!open) { text(windowEl, 'window closed'); return; }
    const left = Math.max(0, new Date(conv.expiresAt).getTime() - Date.now());
    const hrs = Math.floor(left / 3600000);
    const mins = Math.floor((left % 3600000) / 60000);
    text(windowEl, hrs + 'h ' + mins + 'm left');
    windowEl.classList.toggle('soon', left < 3600000);
  }

  function paintHead() {
    if (!conv) return;
    el.setAttribute('data-state', conv.state);
    text(title, customerName(store, conv));
    text(stateBadge, conv.state);
    stateBadge.className = 'state-badge state-' + conv.state;
    paintWindow();
    paintActions();
    const mode = windowOpen() ? 'reply' : 'template';
    if (mode !== composerMode) {
      if (composer) composer.destroy();
      composerMode = mode;
      composer = mountComposer(ctx, { mode, conversation: () => conv, onSent: (m) => {
          store.upsertMessage(m);
          // A template sent after a conversation ended starts a new one: follow it.
          if (m.conversationId && m.conversationId !== id) ctx.navigate('#/inbox/' + encodeURIComponent(m.conversationId));
          else scrollToEnd();
        },
        onOutsideWindow: () => { show('The service window has closed or the conversation ended: only a template can be sent now.'); refreshConversation(); } });
      replace(composerSlot, composer.el);
    }
  }

  let agentsLoaded = false;
  const assignSelect = h('select', { 'data-test': 'assign-select', 'aria-label': 'Assign to' }, h('option', { value: '' }, 'Assign to…'));
  const assignApply = h('button', { type: 'button', 'data-test': 'assign-apply', on: { click: () => assign(assignSelect.value) } }, 'Assign');
  const unassignBtn = h('button', { type: 'button', 'data-test': 'unassign', title: 'Unassign: back to automatic assignment', on: { click: () => assign('') } }, 'Unassign');
  const closeBtn = h('button', { type: 'button', 'data-test': 'close-conversation', on: { click: closeConversation } }, 'Close');

  function paintActions() {
    const closed = conv.state === 'closed';
    const parts = [];
    if (canAssign && !closed) {
      if (!agentsLoaded) loadAgents();
      if (assignSelect.value === '' && conv.assigneeId) assignSelect.value = conv.assigneeId;
      parts.push(assignSelect, assignApply);
      if (conv.assigneeId) parts.push(unassignBtn);
    }
    if (!closed) parts.push(closeBtn);
    replace(actions, parts);
  }

  async function loadAgents() {
    agentsLoaded = true;
    try {
      const page = await api.get('/api/agents');
      const items = (page && page.items) || [];
      replace(assignSelect, h('option', { value: '' }, 'Assign to…'),
        items.map((a) => h('option', { value: a.id }, (a.name || a.email) + ' · ' + (a.online ? 'online' : 'offline') + ' · ' + (a.openConversations || 0) + ' open')));
      if (conv && conv.assigneeId) assignSelect.value = conv.assigneeId;
    } catch (e) {
      show('Agents could not be listed: ' + (e.text || e.message));
    }
  }

  async function assign(agentId) {
    show('');
    try {
      const body = agentId ? { agentId } : {};
      const d = await api.post('/api/whatsapp/conversations/' + encodeURIComponent(id) + '/assign', body, { idempotencyKey: newKey() });
      if (d && d.conversation) setConversation(d.conversation);
    } catch (e) {
      show(e.text || e.message);
    }
  }

  async function closeConversation() {
    show('');
    try {
      const d = await api.post('/api/whatsapp/conversations/' + encodeURIComponent(id) + '/close', {}, { idempotencyKey: newKey() });
      if (d && d.conversation) setConversation(d.conversation);
    } catch (e) {
      show(e.text || e.message);
    }
  }

  function setConversation(c) {
    conv = store.upsertConversation(c);
    paintHead();
  }

  async function refreshConversation() {
    try {
      const d = await api.get('/api/whatsapp/conversations/' + encodeURIComponent(id));
      if (!destroyed && d && d.conversation) setConversation(d.conversation);
    } catch (e) {
      if (!destroyed) show(e.status === 404 ? 'This conversation is not (or no longer) yours to see.' : (e.text || e.message));
    }
  }

  function messageText(m) {
    if (m.text) return m.text;
    const c = m.content || {};
    if (c.body) return c.body;
    if (c.text && c.text.body) return c.text.body;
    if (m.type === 'template' && c.name) return '[template ' + c.name + ']';
    if (m.media) return c.caption || '';
    return '[' + (m.type || 'message') + ']';
  }

  function row(m) {
    const dir = m.direction === 'inbound' ? 'inbound' : 'outbound';
    const status = dir === 'inbound' ? 'received' : (m.status || 'queued');
    const parts = [h('div', { class: 'message-text', 'data-test': 'message-text' }, messageText(m))];
    if (m.media) parts.push(mediaView(api, m));
    const meta = [h('time', { datetime: m.createdAt || '' }, m.createdAt ? new Date(m.createdAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : '')];
    if (dir === 'outbound') {
      meta.push(h('span', { class: 'ticks ticks-' + status, 'data-test': 'message-ticks', 'aria-label': TICK_LABEL[status] || status, title: TICK_LABEL[status] || status }, TICKS[status] || ''));
    }
    parts.push(h('div', { class: 'message-meta muted' }, meta));
    if (status === 'failed') {
      const err = m.error || {};
      parts.push(h('div', { class: 'message-error error', 'data-test': 'message-error' }, err.reason || err.message || err.title || 'not delivered'));
      const body = messageText(m);
      if (retried.has(m.id)) {
        parts.push(h('span', { class: 'muted' }, 'Sent again below.'));
      } else if (m.type === 'text' || m.text) {
        parts.push(h('button', { type: 'button', class: 'link', 'data-test': 'message-retry', on: { click: (ev) => retry(ev.currentTarget, m, body) } }, 'Retry'));
      }
    }
    return h('li', { class: 'message ' + dir, 'data-test': 'message', 'data-message-id': m.id, 'data-wamid': m.waMessageId || '',
      'data-direction': dir, 'data-status': status }, parts);
  }

  async function retry(btn, failed, body) {
    btn.disabled = true;
    show('');
    try {
      const d = await api.post('/api/whatsapp/messages', { to: conv.customerId, type: 'text', text: { body }, phoneNumberId: conv.phoneNumberId || undefined },
        { idempotencyKey: newKey() });
      retried.add(failed.id);
      place(store.messages.get(id)?.get(failed.id) || failed);
      if (d && d.message) { store.upsertMessage(d.message); scrollToEnd(); }
    } catch (e) {
      btn.disabled = false;
      show(e.text || e.message);
      if (e.code === 'OUTSIDE_SERVICE_WINDOW') refreshConversation();
    }
  }

  // place puts message m's row where it belongs (oldest first).
  function place(m) {
    const li = row(m);
    const old = rows.get(m.id);
    rows.set(m.id, li);
    if (old) { old.replaceWith(li); return; }
    const t = time(m.createdAt);
    let before = null;
    for (let n = list.lastElementChild; n; n = n.previousElementSibling) {
      const other = store.messages.get(id)?.get(n.getAttribute('data-message-id'));
      if (!other || time(other.createdAt) <= t) break;
      before = n;
    }
    list.insertBefore(li, before);
  }

  function nearEnd() { return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80; }
  function scrollToEnd() { scroller.scrollTop = scroller.scrollHeight; }

  async function loadMessages(before) {
    const q = { limit: 50 };
    if (before) q.before = before;
    const page = await api.get('/api/whatsapp/conversations/' + encodeURIComponent(id) + '/messages', q);
    const items = ((page && page.items) || []).slice().reverse();
    nextCursor = (page && page.nextCursor) || '';
    return items;
  }

  async function reload() {
    try {
      const items = await loadMessages('');
      if (destroyed) return;
      for (const m of items) place(store.upsertMessage(m));
      scrollToEnd();
    } catch (e) {
      if (!destroyed) show(e.status === 404 ? 'This conversation is not (or no longer) yours to see.' : (e.text || e.message));
    }
  }

  async function onScroll() {
    if (scroller.scrollTop > 40 || !nextCursor || loadingOlder) return;
    loadingOlder = true;
    const height = scroller.scrollHeight;
    try {
      const items = await loadMessages(nextCursor);
      if (destroyed) return;
      for (const m of items) place(store.upsertMessage(m));
      scroller.scrollTop += scroller.scrollHeight - height;
    } catch (e) {
      show(e.text || e.message);
    } finally {
      loadingOlder = false;
    }
  }

  // markRead tells the engine the conversation was read, when it is this
  // user's or nobody's: a supervisor looking into an agent's conversation
  // leaves the agent's unread count alone.
  function markRead() {
    if (document.visibilityState !== 'visible') return;
    if (conv && conv.assigneeId && conv.assigneeId !== user.id) return;
    ws.send('read', { conversationId: id });
  }

  const offs = [
    store.on('message', (m) => {
      if (m.conversationId !== id) return;
      const stick = nearEnd();
      place(m);
      if (stick || m.direction === 'outbound') scrollToEnd();
      if (m.direction === 'inbound') markRead();
    }),
    store.on('conversation', (c) => {
      if (c.id !== id) return;
      conv = c;
      paintHead();
    }),
    store.on('customer', (c) => { if (conv && c.id === conv.customerId) paintHead(); }),
    store.on('catchup', () => { refreshConversation(); reload(); }),
  ];
  const tick = setInterval(() => { if (conv) { paintWindow(); if ((windowOpen() ? 'reply' : 'template') !== composerMode) paintHead(); } }, 30000);

  if (conv) paintHead();
  refreshConversation().then(() => { if (conv) { loadCustomer(api, store, conv.customerId); markRead(); } });
  reload();

  return {
    el,
    destroy() {
      destroyed = true;
      clearInterval(tick);
      for (const off of offs) off();
      if (composer) composer.destroy();
    },
  };
}
