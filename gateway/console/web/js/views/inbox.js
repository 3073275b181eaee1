// views/inbox.js: the conversation list (#/inbox) beside the open thread
// and its customer panel (#/inbox/<id>). Tabs mine / unassigned / all
// (agents: mine only), a state filter, search by customer name or number,
// unread counts, live updates from the socket's frames without reloading,
// and the keyboard: j/k or the arrows move, Enter opens, / searches.
import { h, replace, text, shortTime } from '../dom.js';
import { time } from '../store.js';
import { customerName, loadCustomer } from './customers.js';
import { mountThread } from './thread.js';
import { mountCustomer } from './customer.js';

const STATES = {
  open: ['new', 'active', 'expired'],
  new: ['new'],
  active: ['active'],
  expired: ['expired'],
  closed: ['closed'],
  any: [],
};

function activity(c) { return Math.max(time(c.updatedAt), time(c.activityAt), time(c.lastInboundAt)); }

export function render(ctx) {
  const { api, store, user } = ctx;
  const supervisor = user.role === 'supervisor' || user.role === 'admin';
  const state = {
    tab: supervisor ? 'all' : 'mine',
    filter: 'open',
    search: '',
    searchCustomers: null, // Set of customer ids while a search is active
    ids: [], // the listed conversations, in order
    selected: '', // the keyboard's selection
    openId: '',
    loading: false,
    error: '',
    seq: 0,
    liveDuring: new Set(), // conversations the socket told of during a reload
  };

  const tabs = h('div', { class: 'tabs', role: 'tablist' },
    tabButton('mine', 'Mine'),
    supervisor && tabButton('unassigned', 'Unassigned'),
    supervisor && tabButton('all', 'All'));
  const filter = h('select', { 'data-test': 'state-filter', 'aria-label': 'State', on: { change: () => { state.filter = filter.value; reload(); } } },
    h('option', { value: 'open' }, 'Open'),
    h('option', { value: 'new' }, 'New'),
    h('option', { value: 'active' }, 'Active'),
    h('option', { value: 'expired' }, 'Expired'),
    h('option', { value: 'closed' }, 'Closed'),
    h('option', { value: 'any' }, 'Any state'));
  let searchTimer = 0;
  const search = h('input', { type: 'search', 'data-test': 'conv-search', placeholder: 'Search name or number  ( / )', 'aria-label': 'Search conversations',
    on: { input: () => { clearTimeout(searchTimer); searchTimer = setTimeout(() => { state.search = search.value.trim(); reload(); }, 250); },
      keydown: onSearchKey } });
  const status = h('p', { class: 'list-status muted', role: 'status' });
  const list = h('ul', { class: 'conv-list', 'data-test': 'conv-list', role: 'listbox', tabindex: '0', 'aria-label': 'Conversations' });
  const listPane = h('div', { class: 'pane list-pane' }, h('div', { class: 'list-tools' }, tabs, h('div', { class: 'row' }, filter, search)), status, list);
  const threadPane = h('div', { class: 'pane thread-pane' });
  const customerPane = h('div', { class: 'pane customer-pane' });
  const el = h('section', { class: 'inbox' }, listPane, threadPane, customerPane);

  function tabButton(name, label) {
    return h('button', { type: 'button', role: 'tab', 'data-test': 'tab-' + name, 'data-tab': name, 'aria-selected': 'false',
      on: { click: () => { state.tab = name; reload(); } } }, label);
  }

  function markTabs() {
    for (const b of tabs.querySelectorAll('[data-tab]')) b.setAttribute('aria-selected', String(b.getAttribute('data-tab') === state.tab));
  }

  // matches says whether conversation c belongs in the list as filtered.
  function matches(c) {
    if (state.tab === 'mine' && c.assigneeId !== user.id) return false;
    if (state.tab === 'unassigned' && c.assigneeId) return false;
    if (!supervisor && c.assigneeId !== user.id) return false;
    const states = STATES[state.filter] || [];
    if (states.length && !states.includes(c.state)) return false;
    if (state.searchCustomers && !state.searchCustomers.has(c.customerId)) return false;
    return true;
  }

  function query(extra) {
    const q = { limit: 100, ...extra };
    const states = STATES[state.filter] || [];
    if (states.length) q.status = states.join(',');
    if (state.tab === 'mine') q.assignee = 'me';
    if (state.tab === 'unassigned') q.assignee = 'none';
    return q;
  }

  // reload reads the list from the API (tab, filter and search changes,
  // and catching up after the socket missed events).
  async function reload() {
    markTabs();
    const seq = ++state.seq;
    state.liveDuring = new Set();
    state.loading = true;
    state.error = '';
    paintStatus();
    try {
      let items = [];
      if (state.search) {
        const found = await api.get('/api/customers', { search: state.search, limit: 20 });
        const customers = (found && found.items) || [];
        for (const c of customers) store.setCustomer(c);
        state.searchCustomers = new Set(customers.map((c) => c.id));
        const pages = await Promise.all(customers.map((c) => api.get('/api/whatsapp/conversations', query({ customerId: c.id, limit: 20 }))));
        for (const p of pages) items.push(...((p && p.items) || []));
      } else {
        state.searchCustomers = null;
        const page = await api.get('/api/whatsapp/conversations', query());
        items = (page && page.items) || [];
      }
      if (seq !== state.seq) return;
      for (const c of items) store.upsertConversation(c);
      // A conversation the socket brought while this read was under way
      // (an assignment on reconnecting) is newer than the answer: keep it.
      const fetched = items.map((c) => c.id);
      state.ids = fetched.concat(state.ids.filter((id) => state.liveDuring.has(id) && !fetched.includes(id)));
    } catch (e) {
      if (seq !== state.seq) return;
      state.error = e.text || e.message;
    } finally {
      if (seq === state.seq) state.loading = false;
    }
    paint();
  }

  function sorted() {
    const seen = new Set();
    const out = [];
    for (const id of state.ids) {
      const c = store.conversations.get(id);
      if (c && !seen.has(id) && matches(c)) { seen.add(id); out.push(c); }
    }
    out.sort((a, b) => activity(b) - activity(a));
    return out;
  }

  function paintStatus() {
    if (state.error) { status.className = 'list-status error'; text(status, state.error); return; }
    status.className = 'list-status muted';
    text(status, state.loading ? 'Loading…' : state.ids.length === 0 ? 'No conversations here.' : '');
  }

  let painting = 0;
  function paint() {
    painting = 0;
    const convs = sorted();
    state.ids = convs.map((c) => c.id);
    if (!state.selected || !state.ids.includes(state.selected)) state.selected = state.openId && state.ids.includes(state.openId) ? state.openId : (state.ids[0] || '');
    replace(list, convs.map(item));
    paintStatus();
  }
  function schedulePaint() {
    if (!painting) painting = requestAnimationFrame(paint);
  }

  function item(c) {
    const name = customerName(store, c);
    if (!store.customers.has(c.customerId)) loadCustomer(api, store, c.customerId);
    const unread = c.id === state.openId ? 0 : (c.unread || 0);
    const last = c.lastMessage;
    const preview = last ? (last.direction === 'outbound' ? 'You: ' : '') + (last.text || '[' + (last.type || 'message') + ']') : '';
    return h('li', {
      'data-test': 'conv-item', 'data-conversation-id': c.id, 'data-state': c.state, 'data-assignee-id': c.assigneeId || '',
      role: 'option', 'aria-selected': String(c.id === state.selected), class: 'conv-item' + (c.id === state.openId ? ' open' : '') + (unread ? ' unread' : ''),
      on: { click: () => ctx.navigate('#/inbox/' + encodeURIComponent(c.id)) },
    },
    h('div', { class: 'conv-line' },
      h('span', { class: 'conv-name', 'data-test': 'conv-name' }, name),
      h('time', { class: 'conv-time muted' }, shortTime(new Date(activity(c)).toISOString()))),
    h('div', { class: 'conv-line' },
      h('span', { class: 'conv-preview muted' }, preview),
      h('span', { class: 'state-badge state-' + c.state }, c.state),
      h('span', { class: 'unread-badge', 'data-test': 'conv-unread', hidden: unread === 0 }, unread ? String(unread) : '')));
  }

  function move(delta) {
    if (!state.ids.length) return;
    let i = state.ids.indexOf(state.selected);
    i = i < 0 ? 0 : Math.max(0, Math.min(state.ids.length - 1, i + delta));
    state.selected = state.ids[i];
    for (const li of list.children) {
      const on = li.getAttribute('data-conversation-id') === state.selected;
      li.setAttribute('aria-selected', String(on));
      if (on) li.scrollIntoView({ block: 'nearest' });
    }
  }

  // In the search box: Escape clears it, the arrows move in the list and
  // Enter opens the selected conversation.
  function onSearchKey(ev) {
    switch (ev.key) {
      case 'Escape': search.value = ''; state.search = ''; reload(); search.blur(); break;
      case 'ArrowDown': ev.preventDefault(); move(1); break;
      case 'ArrowUp': ev.preventDefault(); move(-1); break;
      case 'Enter':
        ev.preventDefault();
        if (state.selected) ctx.navigate('#/inbox/' + encodeURIComponent(state.selected));
        break;
      default:
    }
  }

  function onKey(ev) {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    const typing = t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable);
    if (typing) return;
    switch (ev.key) {
      case '/': ev.preventDefault(); search.focus(); search.select(); break;
      case 'j': case 'ArrowDown': ev.preventDefault(); move(1); break;
      case 'k': case 'ArrowUp': ev.preventDefault(); move(-1); break;
      case 'Enter':
        if (state.selected && !(t && t.tagName === 'BUTTON')) { ev.preventDefault(); ctx.navigate('#/inbox/' + encodeURIComponent(state.selected)); }
        break;
      default:
    }
  }
  document.addEventListener('keydown', onKey);

  // Live: every conversation the socket tells of is placed or removed as
  // the filters say; new ones join the list.
  const offs = [
    store.on('conversation', (c) => {
      if (!state.ids.includes(c.id) && matches(c)) state.ids.push(c.id);
      if (state.loading) state.liveDuring.add(c.id);
      schedulePaint();
    }),
    store.on('customer', schedulePaint),
    // A message of a conversation this console never read: read it.
    store.on('unknown-conversation', (id) => fetchConversation(id)),
    store.on('catchup', () => { reload(); }),
  ];

  const fetching = new Set();
  async function fetchConversation(id) {
    if (fetching.has(id)) return;
    fetching.add(id);
    try {
      const d = await api.get('/api/whatsapp/conversations/' + encodeURIComponent(id));
      if (d && d.conversation) store.upsertConversation(d.conversation);
    } catch (e) {
      // Not visible to this user (404): nothing to show.
    } finally {
      fetching.delete(id);
    }
  }

  let thread = null;
  let customer = null;
  function open(id) {
    if (id === state.openId) return;
    if (thread) thread.destroy();
    if (customer) customer.destroy();
    thread = null;
    customer = null;
    state.openId = id;
    store.openConversationId = id;
    el.classList.toggle('has-open', Boolean(id));
    if (!id) {
      replace(threadPane, h('p', { class: 'empty muted' }, 'Select a conversation (j/k, Enter).'));
      replace(customerPane);
      schedulePaint();
      return;
    }
    state.selected = id;
    const c = store.conversations.get(id);
    // Read by opening it, when it is this user's or nobody's (the thread
    // tells the engine so).
    if (c && c.unread && (!c.assigneeId || c.assigneeId === user.id)) store.upsertConversation({ id: c.id, unread: 0 });
    // A panel that fails to build says so; the others still work.
    thread = guarded(() => mountThread(ctx, id), 'thread');
    replace(threadPane, thread.el);
    customer = guarded(() => mountCustomer(ctx, id), 'customer panel');
    replace(customerPane, customer.el);
    schedulePaint();
  }

  function guarded(mount, what) {
    try {
      return mount();
    } catch (e) {
      console.error(what, e);
      return { el: h('p', { class: 'error', role: 'alert' }, 'The ' + what + ' failed to load: ' + e.message), destroy() {} };
    }
  }

  el.update = (params) => open(params.id || '');
  ctx.cleanup(() => {
    document.removeEventListener('keydown', onKey);
    for (const off of offs) off();
    if (thread) thread.destroy();
    if (customer) customer.destroy();
    store.openConversationId = '';
    clearTimeout(searchTimer);
    cancelAnimationFrame(painting);
  });

  filter.value = state.filter;
  open(ctx.params.id || '');
  reload();
  return el;
}
