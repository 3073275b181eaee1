// views/call.js: the customer panel's call button (POST /api/calls/initiate
// through Exotel; the engine rings the agent's own phone, then the
// customer's) and the call's live state from `call.updated` frames.
import { h, text } from '../dom.js';
import { newKey } from '../api.js';

const LIVE = new Set(['queued', 'ringing', 'in-progress']);

export function mountCall(ctx, customerId, conversationId) {
  const { api, store } = ctx;
  let callId = '';
  const state = h('span', { class: 'call-state muted', 'data-test': 'call-state', role: 'status' });
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const btn = h('button', { type: 'button', 'data-test': 'customer-call', on: { click: call } }, 'Call');
  const el = h('div', { class: 'call' }, h('div', { class: 'row' }, btn, state), error);

  function paint(c) {
    text(state, c.status + (c.durationSec ? ' · ' + c.durationSec + ' s' : '') + (c.reason ? ' — ' + c.reason : ''));
    state.setAttribute('data-status', c.status);
    btn.disabled = LIVE.has(c.status);
  }

  async function call() {
    btn.disabled = true;
    error.hidden = true;
    try {
      const d = await api.post('/api/calls/initiate', { customerId, conversationId }, { idempotencyKey: newKey() });
      const c = d.call || d;
      callId = c.id;
      paint(c);
    } catch (e) {
      text(error, e.text || e.message);
      error.hidden = false;
      btn.disabled = false;
    }
  }

  const off = store.on('call', (c) => {
    if (c.id === callId || (!callId && c.customerId === customerId && LIVE.has(c.status))) {
      callId = c.id;
      paint(c);
    }
  });
  return { el, destroy: off };
}
