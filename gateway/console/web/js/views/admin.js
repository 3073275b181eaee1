// views/admin.js: what the supervisor and admin views (agents, dead letters,
// users, audit) share: the previous/next pager of their paged lists, the
// text of a failed call, local times, and leaving a view.
import { h, text } from '../dom.js';

// pager is the previous/next control; prefix names its data-test hooks:
// <prefix>-prev, <prefix>-next and <prefix>-page ("page N of M · T total").
// It returns {el, set(page, limit, total)}; go(page) is called with the page
// a button asks for.
export function pager(prefix, go) {
  let page = 1;
  const prev = h('button', { type: 'button', 'data-test': prefix + '-prev', on: { click: () => go(page - 1) } }, '‹ Previous');
  const next = h('button', { type: 'button', 'data-test': prefix + '-next', on: { click: () => go(page + 1) } }, 'Next ›');
  const label = h('span', { class: 'muted', 'data-test': prefix + '-page', 'aria-live': 'polite' });
  const el = h('div', { class: 'pager' }, prev, label, next);
  return {
    el,
    set(p, limit, total) {
      page = p;
      const pages = Math.max(1, Math.ceil(total / Math.max(1, limit)));
      prev.disabled = page <= 1;
      next.disabled = page >= pages;
      text(label, 'page ' + page + ' of ' + pages + ' · ' + total + ' total');
    },
  };
}

// errorText is what a person reads of a failed call.
export function errorText(e) {
  return (e && (e.text || e.message)) || String(e);
}

// when formats an RFC 3339 time as the reader's local date and time.
export function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

// onLeave registers fn to run when the view is left (main.js's cleanup).
export function onLeave(ctx, fn) {
  if (ctx && typeof ctx.cleanup === 'function') ctx.cleanup(fn);
}
