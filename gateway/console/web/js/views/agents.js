// views/agents.js: the supervisors' Agents page. GET /api/agents as a table
// of every user with presence (a socket open on any node) and load (open
// conversations), refreshed on assignment and conversation frames, after a
// socket catch-up and every 15 s. Reassign: pick one of an agent's
// conversations (GET /api/whatsapp/conversations?assignee=<id>) and assign
// it to another user (POST …/assign {agentId}).
import { h, replace, text } from '../dom.js';
import { errorText, onLeave } from './admin.js';

const REFRESH_MS = 15000;
// Frames after which presence or load may have changed.
const FRAMES = new Set(['conversation.assigned', 'conversation.updated', 'presence', 'agent.presence']);
// Conversations that count as an agent's load (closed ones are not moved).
const OPEN_STATES = 'new,active,expired';

export function render(ctx) {
  const { api, store } = ctx;
  let agents = [];
  let loading = null;
  let again = false;
  let targets = null; // the open reassign panel's {select, from}

  const status = h('p', { class: 'muted', 'data-test': 'agents-status', role: 'status' });
  const body = h('tbody');
  const table = h('table', { class: 'grid', 'data-test': 'agents-table' },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Name'),
      h('th', { scope: 'col' }, 'Email'),
      h('th', { scope: 'col' }, 'Role'),
      h('th', { scope: 'col' }, 'Presence'),
      h('th', { scope: 'col' }, 'Open conversations'),
      h('th', { scope: 'col' }, ''))),
    body);
  const panel = h('div', { class: 'panel', 'data-test': 'reassign-panel', hidden: true });
  const refreshBtn = h('button', { type: 'button', 'data-test': 'agents-refresh', on: { click: () => load() } }, 'Refresh');

  const el = h('section', { class: 'page agents', 'data-test': 'agents' },
    h('header', { class: 'page-head' }, h('h1', {}, 'Agents'), refreshBtn),
    status, table, panel);

  // load reads the agents; a call while one runs asks for one more after it.
  function load() {
    if (loading) { again = true; return loading; }
    loading = api.get('/api/agents').then((data) => {
      agents = (data && data.items) || [];
      draw();
      text(status, agents.length + ' users · ' + agents.filter((a) => a.online).length + ' online · updated ' + new Date().toLocaleTimeString());
      status.className = 'muted';
    }, (e) => {
      text(status, 'Could not load the agents: ' + errorText(e));
      status.className = 'error';
    }).finally(() => {
      loading = null;
      if (again) { again = false; load(); }
    });
    return loading;
  }

  // drawTargets fills the open panel's target select with every other
  // user, their presence and load, keeping the choice.
  function drawTargets() {
    if (!targets) return;
    const keep = targets.select.value;
    replace(targets.select, agents.filter((a) => a.id !== targets.from).map((a) =>
      h('option', { value: a.id }, (a.name || a.email) + ' (' + a.role + ', ' + (a.online ? 'online' : 'offline') + ', ' + (a.openConversations || 0) + ' open)')));
    if (keep && agents.some((a) => a.id === keep && a.id !== targets.from)) targets.select.value = keep;
  }

  function draw() {
    drawTargets();
    replace(body, agents.map((a) => {
      const presence = a.online ? 'online' : 'offline';
      return h('tr', { 'data-test': 'agent-row', 'data-agent-id': a.id, 'data-presence': presence, 'data-role': a.role },
        h('td', { 'data-test': 'agent-name' }, a.name || a.email),
        h('td', {}, a.email),
        h('td', {}, a.role),
        h('td', {}, h('span', { class: 'presence presence-' + presence, 'data-test': 'agent-presence' }, presence)),
        h('td', { class: 'num', 'data-test': 'agent-load' }, String(a.openConversations || 0)),
        h('td', {}, h('button', {
          type: 'button', 'data-test': 'agent-reassign', disabled: !(a.openConversations > 0),
          title: 'Move one of this user\'s conversations to someone else',
          on: { click: () => openReassign(a) },
        }, 'Reassign…')));
    }));
  }

  // openReassign shows the panel for one agent's open conversations.
  async function openReassign(from) {
    const convSelect = h('select', { 'data-test': 'reassign-conversation', 'aria-label': 'Conversation' });
    const targetSelect = h('select', { 'data-test': 'reassign-target', 'aria-label': 'Assign to' });
    targets = { select: targetSelect, from: from.id };
    drawTargets();
    const result = h('p', { 'data-test': 'reassign-result', role: 'status' });
    const apply = h('button', { type: 'button', 'data-test': 'reassign-apply', disabled: true }, 'Assign');
    const cancel = h('button', { type: 'button', class: 'link', 'data-test': 'reassign-cancel', on: { click: close } }, 'Close');
    apply.addEventListener('click', async () => {
      const convId = convSelect.value;
      const agentId = targetSelect.value;
      if (!convId || !agentId) return;
      apply.disabled = true;
      text(result, 'Assigning…');
      result.className = 'muted';
      try {
        const data = await api.post('/api/whatsapp/conversations/' + encodeURIComponent(convId) + '/assign', { agentId });
        const c = (data && data.conversation) || {};
        if (c.id && store.upsertConversation) store.upsertConversation(c);
        const to = agents.find((a) => a.id === agentId);
        text(result, 'Conversation ' + convId + ' assigned to ' + (to ? to.name || to.email : agentId) + '.');
        result.className = 'ok';
        result.setAttribute('data-outcome', 'success');
        const opt = [...convSelect.options].find((o) => o.value === convId);
        if (opt) opt.remove();
        await load();
      } catch (e) {
        text(result, 'Could not assign: ' + errorText(e));
        result.className = 'error';
        result.setAttribute('data-outcome', 'failure');
      } finally {
        apply.disabled = convSelect.options.length === 0;
      }
    });
    panel.hidden = false;
    panel.setAttribute('data-agent-id', from.id);
    replace(panel,
      h('h2', {}, 'Reassign a conversation of ' + (from.name || from.email)),
      h('label', {}, 'Conversation ', convSelect),
      h('label', {}, 'Assign to ', targetSelect),
      h('div', { class: 'actions' }, apply, cancel),
      result);
    text(result, 'Loading conversations…');
    result.className = 'muted';
    try {
      const data = await api.get('/api/whatsapp/conversations', { assignee: from.id, status: OPEN_STATES, limit: 100 });
      const items = (data && data.items) || [];
      replace(convSelect, items.map((c) =>
        h('option', { value: c.id, 'data-state': c.state }, conversationLabel(c, store))));
      apply.disabled = items.length === 0 || targetSelect.options.length === 0;
      text(result, items.length ? '' : 'No open conversations to move.');
    } catch (e) {
      text(result, 'Could not load the conversations: ' + errorText(e));
      result.className = 'error';
    }
  }

  function close() {
    targets = null;
    panel.hidden = true;
    panel.removeAttribute('data-agent-id');
    replace(panel);
  }

  // Frames that move conversations refresh the table (coalesced).
  let pending = 0;
  const soon = () => {
    clearTimeout(pending);
    pending = setTimeout(load, 300);
  };
  const offs = [
    store.on('frame', (f) => { if (f && FRAMES.has(f.type)) soon(); }),
    store.on('catchup', soon),
    store.on('connection', (s) => { if (s === 'open') soon(); }),
  ];
  const timer = setInterval(load, REFRESH_MS);
  onLeave(ctx, () => {
    clearInterval(timer);
    clearTimeout(pending);
    for (const off of offs) off();
  });

  load();
  return el;
}

// conversationLabel names a conversation for the picker: the customer's
// name when the store knows it, else the WhatsApp number, and its state.
function conversationLabel(c, store) {
  const cust = store.customers && store.customers.get(c.customerId);
  const who = (cust && (cust.name || cust.phone)) || (c.waId ? '+' + c.waId : c.customerId);
  return who + ' · ' + c.state + ' · ' + c.id;
}
