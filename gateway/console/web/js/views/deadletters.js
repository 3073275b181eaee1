// views/deadletters.js: the supervisors' Dead letters page. GET
// /api/whatsapp/dead-letters lists the sends that exhausted their attempts
// (oldest first); POST /api/whatsapp/dead-letters/redrive puts one back
// ({messageIds:[id]}) or all of them ({}) on the queue and answers
// {redriven: n}, which is shown. The list reloads after every re-drive.
import { h, replace, text } from '../dom.js';
import { errorText, when } from './admin.js';

const LIMIT = 100;

export function render(ctx) {
  const { api } = ctx;
  let items = [];

  const status = h('p', { class: 'muted', 'data-test': 'dead-letters-status', role: 'status' });
  const result = h('p', { 'data-test': 'dead-letter-result', role: 'status', 'aria-live': 'polite' });
  const body = h('tbody');
  const table = h('table', { class: 'grid' },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Dead since'),
      h('th', { scope: 'col' }, 'Kind'),
      h('th', { scope: 'col' }, 'Message'),
      h('th', { scope: 'col' }, 'Conversation'),
      h('th', { scope: 'col' }, 'To'),
      h('th', { scope: 'col' }, 'Attempts'),
      h('th', { scope: 'col' }, 'Reason'),
      h('th', { scope: 'col' }, ''))),
    body);
  const all = h('button', { type: 'button', 'data-test': 'dead-letter-redrive-all', disabled: true, on: { click: () => redrive(null, all) } }, 'Re-drive all');
  const refresh = h('button', { type: 'button', 'data-test': 'dead-letters-refresh', on: { click: () => load() } }, 'Refresh');
  const empty = h('p', { class: 'muted', 'data-test': 'dead-letters-empty', hidden: true }, 'No dead letters: every send was delivered to WhatsApp or is still being tried.');

  const el = h('section', { class: 'page dead-letters', 'data-test': 'dead-letters' },
    h('header', { class: 'page-head' }, h('h1', {}, 'Dead letters'), h('div', { class: 'actions' }, refresh, all)),
    status, result, empty, table);

  async function load() {
    try {
      const data = await api.get('/api/whatsapp/dead-letters', { limit: LIMIT });
      items = (data && data.items) || [];
      draw();
      text(status, items.length + (items.length === LIMIT ? '+ ' : ' ') + 'dead letter' + (items.length === 1 ? '' : 's'));
      status.className = 'muted';
    } catch (e) {
      text(status, 'Could not load the dead letters: ' + errorText(e));
      status.className = 'error';
    }
  }

  function draw() {
    empty.hidden = items.length > 0;
    table.hidden = items.length === 0;
    all.disabled = items.length === 0;
    replace(body, items.map((d) => {
      const j = d.job || {};
      const btn = h('button', { type: 'button', 'data-test': 'dead-letter-redrive', 'data-message-id': j.messageId }, 'Re-drive');
      btn.addEventListener('click', () => redrive(j.messageId, btn));
      return h('tr', { 'data-test': 'dead-letter-row', 'data-message-id': j.messageId, 'data-conversation-id': j.conversationId || '' },
        h('td', {}, when(d.at)),
        h('td', {}, j.kind || 'send'),
        h('td', { class: 'mono' }, j.messageId || ''),
        h('td', { class: 'mono' }, j.conversationId || ''),
        h('td', {}, j.to ? '+' + j.to : ''),
        h('td', { class: 'num' }, String(j.attempt || 0)),
        h('td', { 'data-test': 'dead-letter-reason' }, d.reason || j.lastError || ''),
        h('td', {}, btn));
    }));
  }

  // redrive re-drives one message (id) or every dead letter (id null).
  async function redrive(id, btn) {
    btn.disabled = true;
    text(result, 'Re-driving…');
    result.className = 'muted';
    result.removeAttribute('data-redriven');
    try {
      const data = await api.post('/api/whatsapp/dead-letters/redrive', id ? { messageIds: [id] } : {});
      const n = (data && data.redriven) || 0;
      result.setAttribute('data-redriven', String(n));
      result.setAttribute('data-outcome', 'success');
      text(result, n === 0
        ? 'Nothing was re-driven (already re-driven or no longer dead).'
        : 'Re-driven ' + n + ' message' + (n === 1 ? '' : 's') + ': back on the queue.');
      result.className = 'ok';
    } catch (e) {
      result.setAttribute('data-outcome', 'failure');
      text(result, 'Re-drive failed: ' + errorText(e));
      result.className = 'error';
    } finally {
      btn.disabled = false;
      await load();
    }
  }

  load();
  return el;
}
