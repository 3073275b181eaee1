// views/inbox.js: the conversation list, the open thread and the
// customer panel (#/inbox, #/inbox/<id>).
import { h } from '../dom.js';

export function render(ctx) {
  const el = h('section', { class: 'inbox' }, h('div', { 'data-test': 'conv-list', class: 'conv-list' }));
  el.update = () => {};
  return el;
}
