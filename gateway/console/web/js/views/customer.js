// views/customer.js: the customer panel beside a thread: name, number,
// tags, attributes, an edit form (PUT /api/customers/:id, a full replace
// of the fields, so the ones not on the form are sent back unchanged) and
// the customer's other conversations.
import { h, replace, text, shortTime } from '../dom.js';
import { loadCustomer } from './customers.js';
import { newKey } from '../api.js';
import { mountCall } from './call.js';

export function mountCustomer(ctx, conversationId) {
  const { api, store } = ctx;
  let customerId = '';
  let editing = false;
  let destroyed = false;
  const body = h('div', { class: 'customer-body' });
  const others = h('ul', { class: 'customer-conversations', 'data-test': 'customer-conversations' });
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const callSlot = h('div', { class: 'call-slot' });
  let call = null;
  const el = h('aside', { class: 'customer-panel', 'data-test': 'customer-panel', 'aria-label': 'Customer' },
    h('h3', {}, 'Customer'), error, body, callSlot, h('h4', {}, 'Other conversations'), others);

  function show(msg) { text(error, msg || ''); error.hidden = !msg; }

  function paint() {
    const c = store.customers.get(customerId);
    if (!c) { replace(body, h('p', { class: 'muted' }, 'Loading…')); return; }
    if (editing) { replace(body, form(c)); return; }
    const attrs = Object.entries(c.attributes || {});
    replace(body,
      h('p', { class: 'customer-name', 'data-test': 'customer-name' }, c.name || ''),
      h('p', { class: 'customer-phone', 'data-test': 'customer-phone' }, c.phone || (c.waId ? '+' + c.waId : '')),
      c.email ? h('p', { class: 'muted' }, c.email) : null,
      h('ul', { class: 'tags', 'data-test': 'customer-tags' }, (c.tags || []).map((t) => h('li', { class: 'tag' }, t))),
      attrs.length ? h('dl', { class: 'attributes' }, attrs.map(([k, v]) => [h('dt', {}, k), h('dd', {}, typeof v === 'string' ? v : JSON.stringify(v))])) : null,
      h('button', { type: 'button', class: 'link', 'data-test': 'customer-edit', on: { click: () => { editing = true; paint(); } } }, 'Edit'));
  }

  function form(c) {
    const name = h('input', { name: 'name', value: c.name || '', required: true, 'aria-label': 'Name' });
    const tags = h('input', { name: 'tags', value: (c.tags || []).join(', '), placeholder: 'vip, billing', 'aria-label': 'Tags (comma separated)' });
    const email = h('input', { name: 'email', type: 'email', value: c.email || '', 'aria-label': 'E-mail' });
    const attrs = h('textarea', { name: 'attributes', rows: '3', placeholder: 'key=value, one a line', 'aria-label': 'Attributes',
      value: Object.entries(c.attributes || {}).map(([k, v]) => k + '=' + (typeof v === 'string' ? v : JSON.stringify(v))).join('\n') });
    const save = h('button', { type: 'submit', class: 'primary', 'data-test': 'customer-save' }, 'Save');
    const cancel = h('button', { type: 'button', on: { click: () => { editing = false; show(''); paint(); } } }, 'Cancel');
    const key = newKey();
    return h('form', { class: 'customer-form', 'data-test': 'customer-form', on: { submit: async (ev) => {
      ev.preventDefault();
      save.disabled = true;
      show('');
      const attributes = {};
      for (const line of attrs.value.split('\n')) {
        const i = line.indexOf('=');
        if (i > 0) attributes[line.slice(0, i).trim()] = line.slice(i + 1).trim();
      }
      const req = { name: name.value.trim(), phone: c.phone, tags: tags.value.split(',').map((t) => t.trim()).filter(Boolean), attributes };
      if (email.value.trim()) req.email = email.value.trim();
      try {
        const d = await api.put('/api/customers/' + encodeURIComponent(c.id), req, { idempotencyKey: key });
        store.setCustomer(d.customer || d);
        editing = false;
        paint();
      } catch (e) {
        show(e.text || e.message);
        save.disabled = false;
      }
    } } },
    h('label', {}, 'Name', name), h('label', {}, 'Tags', tags), h('label', {}, 'E-mail', email), h('label', {}, 'Attributes', attrs),
    h('div', { class: 'row' }, save, cancel));
  }

  async function loadOthers() {
    try {
      const page = await api.get('/api/whatsapp/conversations', { customerId, limit: 20 });
      if (destroyed) return;
      const items = ((page && page.items) || []).filter((c) => c.id !== conversationId);
      for (const c of items) store.upsertConversation(c);
      replace(others, items.length ? items.map((c) => h('li', {},
        h('a', { href: '#/inbox/' + encodeURIComponent(c.id), 'data-conversation-id': c.id }, c.state + ' · ' + shortTime(c.updatedAt)))) : h('li', { class: 'muted' }, 'None'));
    } catch (e) {
      if (!destroyed) replace(others, h('li', { class: 'error' }, e.text || e.message));
    }
  }

  function start(conv) {
    if (!conv || customerId) return;
    customerId = conv.customerId;
    paint();
    const perms = (ctx.user.permissions || []);
    if (perms.includes('calls:write')) {
      call = mountCall(ctx, customerId, conversationId);
      replace(callSlot, call.el);
    }
    loadCustomer(api, store, customerId).then((c) => { if (!destroyed && !c) show('The customer could not be read.'); });
    loadOthers();
  }

  const offs = [
    store.on('customer', (c) => { if (c.id === customerId && !editing) paint(); }),
    store.on('conversation', (c) => { if (c.id === conversationId) start(c); }),
    store.on('catchup', () => { if (customerId) loadOthers(); }),
  ];
  paint();
  start(store.conversations.get(conversationId));
  return { el, destroy() { destroyed = true; for (const off of offs) off(); if (call) call.destroy(); } };
}
