// views/notifications.js: the bell in the header: an unread badge kept live
// by `notification` frames, and a list (GET /api/notifications) whose items
// open their conversation and are marked read (POST /api/notifications/read).
import { h, replace, text, shortTime } from '../dom.js';

export function render(ctx) {
  const { api, store } = ctx;
  let total = 0; // unread on the server when last asked, plus live ones
  let open = false;
  const badge = h('span', { class: 'badge', 'data-test': 'notif-badge', hidden: true });
  const toggle = h('button', { type: 'button', class: 'bell', 'data-test': 'notif-toggle', 'aria-label': 'Notifications', 'aria-expanded': 'false',
    on: { click: () => setOpen(!open) } }, 'Alerts', badge);
  const list = h('ul', { class: 'notif-list', 'data-test': 'notif-list' });
  const readAll = h('button', { type: 'button', class: 'link', on: { click: () => markRead(null) } }, 'Mark all read');
  const panel = h('div', { class: 'notif-panel', hidden: true, role: 'dialog', 'aria-label': 'Notifications' },
    h('div', { class: 'row between' }, h('strong', {}, 'Notifications'), readAll), list);
  const el = h('div', { class: 'notif' }, toggle, panel);

  function paintBadge() {
    text(badge, total > 99 ? '99+' : String(total));
    badge.hidden = total <= 0;
  }

  function paintList() {
    const items = [...store.notifications.values()].sort((a, b) => String(b.createdAt).localeCompare(String(a.createdAt)));
    replace(list, items.length ? items.map((n) => h('li', {
      class: 'notif-item' + (n.readAt ? '' : ' unread'), 'data-test': 'notif-item', 'data-kind': n.kind, 'data-notification-id': n.id,
      on: { click: () => { if (!n.readAt) markRead([n.id]); if (n.conversationId) { setOpen(false); ctx.navigate('#/inbox/' + encodeURIComponent(n.conversationId)); } } },
    }, h('div', { class: 'row between' }, h('strong', {}, n.title || n.kind), h('time', { class: 'muted' }, shortTime(n.createdAt))),
    h('div', {}, n.body || ''))) : h('li', { class: 'muted' }, 'Nothing yet.'));
  }

  async function load() {
    try {
      const [page, unread] = await Promise.all([
        api.get('/api/notifications', { limit: 30 }),
        api.get('/api/notifications', { unread: 'true', limit: 1 }),
      ]);
      for (const n of (page && page.items) || []) store.notifications.set(n.id, n);
      total = (unread && unread.total) || 0;
      paintBadge();
      paintList();
    } catch (e) {
      console.warn('notifications', e);
    }
  }

  async function markRead(ids) {
    try {
      await api.post('/api/notifications/read', ids ? { ids } : {});
      const now = new Date().toISOString();
      for (const n of store.notifications.values()) if (!ids || ids.includes(n.id)) n.readAt = n.readAt || now;
      total = ids ? Math.max(0, total - ids.length) : 0;
      paintBadge();
      paintList();
    } catch (e) {
      console.warn('mark read', e);
    }
  }

  function setOpen(v) {
    open = v;
    panel.hidden = !v;
    toggle.setAttribute('aria-expanded', String(v));
    if (v) load();
  }

  store.on('notifications', () => { total++; paintBadge(); if (open) paintList(); });
  store.on('catchup', load);
  load();
  return el;
}
