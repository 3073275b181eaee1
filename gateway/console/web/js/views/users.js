// views/users.js: the admins' Users page. GET /api/users?page&limit&search
// as a table; a row's role select changes the role at once (PATCH
// /api/users/:id/role {role}) and its button disables or enables the
// account (PATCH /api/users/:id {disabled}). A refused change puts the row
// back as the server has it and says why. Both changes end the user's
// sessions on the server; the admin's own role and account are left to
// another admin (the role select and the button are disabled on its row).
import { h, replace, text } from '../dom.js';
import { errorText, pager, when } from './admin.js';

const ROLES = ['agent', 'supervisor', 'admin'];
const LIMIT = 20;

export function render(ctx) {
  const { api, user } = ctx;
  let page = 1;
  let search = '';

  const status = h('p', { 'data-test': 'users-status', role: 'status', 'aria-live': 'polite' });
  const listState = h('p', { class: 'muted', 'data-test': 'users-list-state', hidden: true });
  const body = h('tbody');
  const table = h('table', { class: 'grid', 'data-test': 'users-table' },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Name'),
      h('th', { scope: 'col' }, 'Email'),
      h('th', { scope: 'col' }, 'Role'),
      h('th', { scope: 'col' }, 'State'),
      h('th', { scope: 'col' }, 'Created'),
      h('th', { scope: 'col' }, ''))),
    body);
  const searchInput = h('input', { type: 'search', 'data-test': 'users-search', placeholder: 'Name or email', 'aria-label': 'Search users', maxlength: '100' });
  const form = h('form', { class: 'toolbar', 'data-test': 'users-filter', role: 'search' },
    searchInput, h('button', { type: 'submit', 'data-test': 'users-apply' }, 'Search'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    search = searchInput.value.trim();
    load(1);
  });
  const pages = pager('users', (p) => load(p));

  const el = h('section', { class: 'page users', 'data-test': 'users' },
    h('header', { class: 'page-head' }, h('h1', {}, 'Users')),
    form, status, listState, table, pages.el);

  function say(msg, kind) {
    text(status, msg);
    status.className = kind || 'muted';
  }

  async function load(p) {
    try {
      const data = await api.get('/api/users', { page: p, limit: LIMIT, search });
      const items = (data && data.items) || [];
      if (items.length === 0 && p > 1 && data.total > 0) return load(Math.ceil(data.total / LIMIT));
      page = data.page || p;
      pages.set(page, data.limit || LIMIT, data.total || 0);
      replace(body, items.map(row));
      text(listState, items.length ? '' : 'No users match.');
      listState.className = 'muted';
      listState.hidden = items.length > 0;
    } catch (e) {
      text(listState, 'Could not load the users: ' + errorText(e));
      listState.className = 'error';
      listState.hidden = false;
    }
    return undefined;
  }

  // row is one user's line; set(u) redraws it from the server's answer.
  function row(u) {
    const self = user && u.id === user.id;
    const tr = h('tr', { 'data-test': 'user-row' });
    const name = h('td', { 'data-test': 'user-name' });
    const email = h('td', { 'data-test': 'user-email' });
    const role = h('select', { 'data-test': 'user-role', 'aria-label': 'Role' }, ROLES.map((r) => h('option', { value: r }, r)));
    const state = h('td', { 'data-test': 'user-state' });
    const created = h('td', {});
    const toggle = h('button', { type: 'button', 'data-test': 'user-disable' });
    let cur = u;

    function set(v) {
      cur = v;
      tr.setAttribute('data-user-id', v.id);
      tr.setAttribute('data-role', v.role);
      tr.setAttribute('data-disabled', v.disabled ? 'true' : 'false');
      tr.classList.toggle('disabled', Boolean(v.disabled));
      text(name, v.name || '');
      text(email, v.email);
      role.value = v.role;
      text(state, v.disabled ? 'disabled' : 'active');
      text(created, when(v.createdAt));
      text(toggle, v.disabled ? 'Enable' : 'Disable');
      toggle.setAttribute('data-action', v.disabled ? 'enable' : 'disable');
      // An admin's own role and account are changed by another admin.
      role.disabled = Boolean(self);
      role.title = self ? 'Another admin changes your role' : '';
      toggle.disabled = Boolean(self && !v.disabled);
      toggle.title = self && !v.disabled ? 'You cannot disable your own account' : '';
    }

    role.addEventListener('change', async () => {
      const want = role.value;
      if (want === cur.role) return;
      role.disabled = true;
      say('Changing the role of ' + cur.email + '…');
      try {
        const data = await api.patch('/api/users/' + encodeURIComponent(cur.id) + '/role', { role: want });
        set(data.user);
        say(data.user.email + ' is now ' + data.user.role + '; their other sessions were ended.', 'ok');
      } catch (e) {
        role.value = cur.role;
        say('Could not change the role of ' + cur.email + ': ' + errorText(e), 'error');
      } finally {
        role.disabled = Boolean(self);
      }
    });

    toggle.addEventListener('click', async () => {
      const disabled = !cur.disabled;
      toggle.disabled = true;
      say((disabled ? 'Disabling ' : 'Enabling ') + cur.email + '…');
      try {
        const data = await api.patch('/api/users/' + encodeURIComponent(cur.id), { disabled });
        set(data.user);
        say(data.user.email + (data.user.disabled ? ' is disabled: every session it had has ended.' : ' is enabled: it can log in again.'), 'ok');
      } catch (e) {
        set(cur);
        say('Could not ' + (disabled ? 'disable ' : 'enable ') + cur.email + ': ' + errorText(e), 'error');
      }
    });

    set(u);
    replace(tr, name, email, h('td', {}, role), state, created, h('td', {}, toggle));
    return tr;
  }

  load(page);
  return el;
}
