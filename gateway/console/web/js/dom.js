// dom.js: the only way the console builds elements. Text goes in as text
// nodes and attributes through setAttribute; there is no innerHTML, no on*
// attribute and no javascript: URL anywhere in the app.

const URL_ATTRS = new Set(['href', 'src', 'action', 'formaction', 'xlink:href']);

// h(tag, attrs, ...children) makes an element. attrs: plain attributes
// (true → present, false/null/undefined → absent), `on: {event: fn}` for
// listeners, `value`/`checked` set as properties. Children: strings and
// numbers become text nodes, Nodes are appended, arrays are flattened,
// null/undefined/false are skipped.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'on') {
      for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
      continue;
    }
    if (/^on/i.test(k)) throw new Error('h: event attributes are not allowed: ' + k);
    if (v === undefined || v === null || v === false) continue;
    if (k === 'value') { el.value = String(v); continue; }
    if (k === 'checked') { el.checked = Boolean(v); continue; }
    const s = v === true ? '' : String(v);
    if (URL_ATTRS.has(k.toLowerCase()) && /^\s*(javascript|data|vbscript):/i.test(s)) {
      throw new Error('h: unsafe URL in ' + k);
    }
    el.setAttribute(k, s);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// replace empties el and appends children.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// text sets el's text.
export function text(el, s) {
  el.textContent = s === null || s === undefined ? '' : String(s);
  return el;
}

// shortTime formats an RFC 3339 time for lists: the time today, the date otherwise.
export function shortTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const now = new Date();
  if (d.toDateString() === now.toDateString()) {
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }
  return d.toLocaleDateString([], { day: 'numeric', month: 'short' });
}
