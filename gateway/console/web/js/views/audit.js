// views/audit.js: the Audit page (supervisor/admin views; filled in with
// the DOM contract's [data-test] names). ctx = {api, store, ws, navigate, user}.
import { h } from '../dom.js';

export function render(ctx) {
  return h('section', { class: 'page' }, h('h1', {}, 'Audit'), h('p', { class: 'muted' }, 'Coming soon.'));
}
