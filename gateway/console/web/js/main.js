// main.js: boots the console, owns the shell (nav by role, connection
// state, notifications, logout) and the hash router:
//   #/login, #/inbox, #/inbox/<conversationId>, #/agents, #/dead-letters,
//   #/users, #/audit.
// Each view module exports render(ctx) → Element, with
// ctx = {api, store, ws, navigate, user} (plus params and cleanup(fn),
// which registers what to undo when the view is left).

import { Api } from './api.js';
import { Store } from './store.js';
import { Socket } from './ws.js';
import { h, replace } from './dom.js';
import * as login from './views/login.js';
import * as inbox from './views/inbox.js';
import * as notifications from './views/notifications.js';
import * as agents from './views/agents.js';
import * as deadletters from './views/deadletters.js';
import * as users from './views/users.js';
import * as audit from './views/audit.js';

const SUPERVISOR = ['supervisor', 'admin'];

// ROUTES: hash path's first segment → view, title and who may open it.
const ROUTES = {
  inbox: { view: inbox, title: 'Inbox', roles: ['agent', 'supervisor', 'admin'], test: 'nav-inbox' },
  agents: { view: agents, title: 'Agents', roles: SUPERVISOR, test: 'nav-agents' },
  'dead-letters': { view: deadletters, title: 'Dead letters', roles: SUPERVISOR, test: 'nav-dead-letters' },
  audit: { view: audit, title: 'Audit', roles: SUPERVISOR, test: 'nav-audit' },
  users: { view: users, title: 'Users', roles: ['admin'], test: 'nav-users' },
};

const api = new Api();
const store = new Store();
const ws = new Socket(api, store);
const root = document.getElementById('root');

let shell = null; // {el, main, nav}
let current = null; // {name, el, cleanups}
let wanted = ''; // the hash asked for before logging in

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function parse() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || '', id: parts[1] || '' };
}

function leave() {
  if (!current) return;
  for (const fn of current.cleanups) { try { fn(); } catch (e) { console.error(e); } }
  current = null;
}

function route() {
  const { name, id } = parse();
  if (!api.signedIn || !store.user) {
    if (name && name !== 'login') wanted = location.hash;
    showLogin();
    return;
  }
  const r = ROUTES[name];
  if (!r || !r.roles.includes(store.user.role)) {
    navigate('#/inbox');
    return;
  }
  if (!shell) buildShell();
  markNav(name);
  document.title = r.title + ' · Agent console';
  // The inbox stays mounted while only the open conversation changes.
  if (current && current.name === name && current.el.update) {
    current.el.update({ id });
    return;
  }
  leave();
  const cleanups = [];
  const ctx = { api, store, ws, navigate, user: store.user, params: { id }, cleanup: (fn) => cleanups.push(fn) };
  let el;
  try {
    el = r.view.render(ctx);
  } catch (e) {
    console.error('render', name, e);
    el = h('p', { class: 'error', role: 'alert' }, 'This page failed to load: ' + e.message);
  }
  current = { name, el, cleanups };
  replace(shell.main, el);
}

function showLogin() {
  leave();
  shell = null;
  ws.close();
  document.title = 'Sign in · Agent console';
  const el = login.render({
    api, store, ws, navigate, user: null,
    onLogin: async () => {
      await loadMe();
      ws.connect();
      const next = wanted && !wanted.startsWith('#/login') ? wanted : '#/inbox';
      wanted = '';
      navigate(next);
    },
  });
  replace(root, el);
  if (location.hash !== '#/login') history.replaceState(null, '', '#/login');
}

async function loadMe() {
  const data = await api.get('/api/auth/me');
  store.user = data.user || data;
  store.emit('user', store.user);
}

function buildShell() {
  const u = store.user;
  const nav = h('nav', { class: 'nav', 'aria-label': 'Sections' },
    Object.entries(ROUTES).filter(([, r]) => r.roles.includes(u.role)).map(([name, r]) =>
      h('a', { href: '#/' + name, 'data-test': r.test, 'data-route': name }, r.title)));
  const conn = h('span', { class: 'conn', 'data-test': 'connection', 'data-state': store.connection, role: 'status', title: 'Live updates' });
  const setConn = (s) => {
    conn.setAttribute('data-state', s);
    conn.textContent = s === 'open' ? 'live' : s === 'connecting' ? 'connecting…' : 'offline';
  };
  setConn(store.connection);
  const offConn = store.on('connection', setConn);
  const notif = notifications.render({ api, store, ws, navigate, user: u });
  const logout = h('button', { type: 'button', class: 'link', 'data-test': 'logout', on: { click: doLogout } }, 'Log out');
  const main = h('main', { class: 'main', id: 'main' });
  const el = h('div', { class: 'app', 'data-test': 'app', 'data-user-id': u.id, 'data-user-role': u.role },
    h('header', { class: 'top' },
      h('a', { class: 'brand', href: '#/inbox' }, 'Console'),
      nav,
      h('div', { class: 'top-right' },
        conn, notif,
        h('span', { class: 'who', title: u.email }, u.name || u.email, h('small', {}, ' · ' + u.role)),
        logout)),
    main);
  shell = { el, main, nav, off: offConn };
  replace(root, el);
}

function markNav(name) {
  for (const a of shell.nav.querySelectorAll('a')) {
    if (a.getAttribute('data-route') === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function doLogout() {
  ws.close();
  try { await api.logout(); } catch (e) { console.warn('logout', e); }
  resetSession();
  navigate('#/login');
}

function resetSession() {
  leave();
  if (shell && shell.off) shell.off();
  shell = null;
  ws.close();
  store.reset();
}

// A session that ended on the server (revoked, refresh spent) goes back to
// the login page.
api.onLoggedOut = () => {
  resetSession();
  wanted = '';
  showLogin();
};
// A rotated access token is handed to the open socket.
api.onSession = (token) => ws.renew(token);

window.addEventListener('hashchange', route);
route();
