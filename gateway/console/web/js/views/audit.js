// views/audit.js: the Audit page (supervisors and admins). GET
// /api/audit?actor&action&from&to&page&limit, newest first, with filters:
// the actor (a user id, or the email or name of a user GET /api/agents
// lists, which the page turns into the id), the action (exact, e.g.
// users.role_change), and a time range [from, to) in the reader's local
// time, sent as RFC 3339.
import { h, replace, text } from '../dom.js';
import { errorText, pager, when } from './admin.js';

const LIMIT = 50;

export function render(ctx) {
  const { api } = ctx;
  let filter = {};
  let people = new Map(); // user id → {name, email}

  const actor = h('input', { type: 'text', 'data-test': 'audit-actor', placeholder: 'Actor (user id or email)', 'aria-label': 'Actor', list: 'audit-actors' });
  const actors = h('datalist', { id: 'audit-actors' });
  const action = h('input', { type: 'text', 'data-test': 'audit-action', placeholder: 'Action, e.g. users.role_change', 'aria-label': 'Action' });
  const from = h('input', { type: 'datetime-local', 'data-test': 'audit-from', 'aria-label': 'From' });
  const to = h('input', { type: 'datetime-local', 'data-test': 'audit-to', 'aria-label': 'To' });
  const apply = h('button', { type: 'submit', 'data-test': 'audit-apply' }, 'Apply');
  const clear = h('button', { type: 'button', class: 'link', 'data-test': 'audit-clear' }, 'Clear');
  const form = h('form', { class: 'toolbar', 'data-test': 'audit-filters', role: 'search' },
    h('label', {}, 'Actor ', actor), actors,
    h('label', {}, 'Action ', action),
    h('label', {}, 'From ', from),
    h('label', {}, 'To ', to),
    apply, clear);
  const status = h('p', { class: 'muted', 'data-test': 'audit-status', role: 'status', 'aria-live': 'polite' });
  const body = h('tbody');
  const table = h('table', { class: 'grid', 'data-test': 'audit-table' },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'At'),
      h('th', { scope: 'col' }, 'Actor'),
      h('th', { scope: 'col' }, 'Action'),
      h('th', { scope: 'col' }, 'Resource'),
      h('th', { scope: 'col' }, 'Outcome'),
      h('th', { scope: 'col' }, 'Detail'),
      h('th', { scope: 'col' }, 'IP'),
      h('th', { scope: 'col' }, 'Request'))),
    body);
  const pages = pager('audit', (p) => load(p));

  const el = h('section', { class: 'page audit', 'data-test': 'audit' },
    h('header', { class: 'page-head' }, h('h1', {}, 'Audit log')),
    form, status, table, pages.el);

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = readFilter();
    if (f) { filter = f; load(1); }
  });
  clear.addEventListener('click', () => {
    actor.value = action.value = from.value = to.value = '';
    filter = {};
    load(1);
  });

  // readFilter turns the inputs into the query, or says what is wrong.
  function readFilter() {
    const f = {};
    const a = actor.value.trim();
    if (a) f.actor = actorID(a);
    if (action.value.trim()) f.action = action.value.trim();
    for (const [k, input] of [['from', from], ['to', to]]) {
      if (!input.value) continue;
      const d = new Date(input.value); // datetime-local: the reader's time
      if (Number.isNaN(d.getTime())) {
        say('"' + k + '" is not a date and time', 'error');
        return null;
      }
      f[k] = d.toISOString();
    }
    if (f.from && f.to && f.from >= f.to) {
      say('"to" must be after "from"', 'error');
      return null;
    }
    return f;
  }

  // actorID is the id of the user a typed email or name names, else what
  // was typed (an id, or an actor such as "system").
  function actorID(s) {
    const low = s.toLowerCase();
    for (const [id, p] of people) {
      if (id === s) return id;
      if ((p.email && p.email.toLowerCase() === low) || (p.name && p.name.toLowerCase() === low)) return id;
    }
    return s;
  }

  function say(msg, kind) {
    text(status, msg);
    status.className = kind || 'muted';
  }

  async function load(p) {
    try {
      const data = await api.get('/api/audit', { ...filter, page: p, limit: LIMIT });
      const items = (data && data.items) || [];
      pages.set(data.page || p, data.limit || LIMIT, data.total || 0);
      replace(body, items.map(row));
      say(items.length ? '' : 'No audit records match.');
    } catch (e) {
      say('Could not load the audit log: ' + errorText(e), 'error');
    }
  }

  function row(a) {
    const who = people.get(a.actorId);
    return h('tr', { 'data-test': 'audit-row', 'data-audit-id': a.id, 'data-action': a.action, 'data-actor-id': a.actorId, 'data-outcome': a.outcome },
      h('td', {}, when(a.at)),
      h('td', { title: a.actorId }, who ? who.name || who.email : a.actorId || '—'),
      h('td', { class: 'mono', 'data-test': 'audit-row-action' }, a.action),
      h('td', { class: 'mono' }, a.resource),
      h('td', { class: 'outcome-' + a.outcome }, a.outcome),
      h('td', {}, a.detail || ''),
      h('td', { class: 'mono' }, a.ip || ''),
      h('td', { class: 'mono', title: a.userAgent || '' }, a.requestId || ''));
  }

  // The names of the actors, best effort (the list is readable without them).
  api.get('/api/agents').then((data) => {
    people = new Map(((data && data.items) || []).map((u) => [u.id, { name: u.name, email: u.email }]));
    replace(actors, [...people.values()].map((p) => h('option', { value: p.email })));
    for (const tr of body.querySelectorAll('tr[data-actor-id]')) {
      const who = people.get(tr.getAttribute('data-actor-id'));
      if (who) text(tr.children[1], who.name || who.email);
    }
  }, () => {});

  load(1);
  return el;
}
