// views/composer.js: what an agent sends from a thread. Inside the service
// window a free-form reply box (Enter sends, Shift+Enter is a new line);
// after it only a template picker: the approved templates, one input per
// body parameter ({{1}} or {{name}}), sent with WhatsApp's components.
import { h, replace, text } from '../dom.js';
import { newKey } from '../api.js';

// opts: {mode: 'reply'|'template', conversation: () => conv, onSent(message), onOutsideWindow()}
export function mountComposer(ctx, opts) {
  return opts.mode === 'reply' ? replyBox(ctx, opts) : templatePicker(ctx, opts);
}

function sendError(err, opts) {
  if (err.code === 'OUTSIDE_SERVICE_WINDOW' || err.code === 'CONVERSATION_CLOSED') opts.onOutsideWindow();
  return err.text || err.message;
}

function replyBox(ctx, opts) {
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const input = h('textarea', { 'data-test': 'reply-input', rows: '2', placeholder: 'Reply… (Enter sends, Shift+Enter new line)', 'aria-label': 'Reply',
    maxlength: '4096', on: { keydown: onKey } });
  const send = h('button', { type: 'button', class: 'primary', 'data-test': 'reply-send', on: { click: submit } }, 'Send');
  let key = ''; // one Idempotency-Key per text, kept across its retries
  let keyFor = '';
  let busy = false;

  function onKey(ev) {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      submit();
    }
  }

  async function submit() {
    const body = input.value;
    if (busy || !body.trim()) return;
    const conv = opts.conversation();
    if (!conv) return;
    if (keyFor !== body) { key = newKey(); keyFor = body; }
    busy = true;
    send.disabled = true;
    error.hidden = true;
    try {
      const d = await ctx.api.post('/api/whatsapp/messages',
        { to: conv.customerId, type: 'text', text: { body }, phoneNumberId: conv.phoneNumberId || undefined }, { idempotencyKey: key });
      if (input.value.trim() === body.trim()) input.value = '';
      keyFor = '';
      if (d && d.message) opts.onSent(d.message);
    } catch (e) {
      text(error, sendError(e, opts));
      error.hidden = false;
    } finally {
      busy = false;
      send.disabled = false;
      input.focus();
    }
  }

  // Attachments: the file is uploaded (POST /api/media/upload; the engine
  // decides its type from the bytes) and sent as a message of the matching
  // type, with the reply box's text as its caption.
  const picker = h('input', { type: 'file', class: 'file-input', 'data-test': 'attach-input', 'aria-label': 'Attach a file',
    on: { change: () => { if (picker.files && picker.files[0]) attach(picker.files[0]); } } });
  const attachBtn = h('button', { type: 'button', 'data-test': 'attach', title: 'Attach a file', on: { click: () => picker.click() } }, 'Attach');
  const progress = h('span', { class: 'muted', role: 'status' });

  async function attach(file) {
    const conv = opts.conversation();
    if (!conv || busy) return;
    busy = true;
    attachBtn.disabled = true;
    send.disabled = true;
    error.hidden = true;
    text(progress, 'Uploading ' + file.name + '…');
    try {
      const up = await ctx.api.upload('/api/media/upload', file, newKey());
      const media = up.media || up;
      const type = messageType(media.mimeType);
      const obj = { mediaId: media.id };
      const caption = input.value.trim();
      if (caption && type !== 'audio' && type !== 'sticker') obj.caption = caption;
      if (type === 'document') obj.filename = media.filename || file.name;
      const d = await ctx.api.post('/api/whatsapp/messages',
        { to: conv.customerId, type, [type]: obj, phoneNumberId: conv.phoneNumberId || undefined }, { idempotencyKey: newKey() });
      if (obj.caption) input.value = '';
      if (d && d.message) opts.onSent(d.message);
    } catch (e) {
      text(error, sendError(e, opts));
      error.hidden = false;
    } finally {
      busy = false;
      attachBtn.disabled = false;
      send.disabled = false;
      picker.value = '';
      text(progress, '');
    }
  }

  const el = h('div', { class: 'composer reply' }, error, h('div', { class: 'row' }, input, h('div', { class: 'composer-buttons' }, send, attachBtn)), progress, picker);
  return { el, destroy() {} };
}

// messageType is the WhatsApp message type that carries a medium of mime.
export function messageType(mime) {
  const m = String(mime || '');
  if (m === 'image/webp') return 'sticker';
  if (m.startsWith('image/')) return 'image';
  if (m.startsWith('audio/')) return 'audio';
  if (m.startsWith('video/')) return 'video';
  return 'document';
}

// variables lists the distinct {{…}} of text in order of first use.
export function variables(text) {
  const out = [];
  for (const m of String(text || '').matchAll(/\{\{\s*([^{}\s]+)\s*\}\}/g)) if (!out.includes(m[1])) out.push(m[1]);
  return out;
}

function bodyOf(t) {
  return (t.components || []).find((c) => String(c.type).toUpperCase() === 'BODY') || null;
}

function templatePicker(ctx, opts) {
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const note = h('p', { class: 'muted' }, 'The 24-hour service window is closed: only an approved template can be sent.');
  const select = h('select', { 'data-test': 'template-select', 'aria-label': 'Template', on: { change: pick } }, h('option', { value: '' }, 'Loading templates…'));
  const params = h('div', { class: 'template-params' });
  const preview = h('p', { class: 'template-preview' });
  const send = h('button', { type: 'button', class: 'primary', 'data-test': 'template-send', disabled: true, on: { click: submit } }, 'Send template');
  let templates = [];
  let current = null;
  let inputs = [];
  let vars = [];
  let destroyed = false;

  async function load() {
    try {
      const page = await ctx.api.get('/api/whatsapp/templates', { status: 'APPROVED', limit: 100 });
      if (destroyed) return;
      templates = ((page && page.items) || []).filter((t) => t.usable !== false);
      replace(select, h('option', { value: '' }, templates.length ? 'Choose a template…' : 'No approved templates'),
        templates.map((t, i) => h('option', { value: String(i) }, t.name + ' (' + t.language + ')')));
    } catch (e) {
      if (destroyed) return;
      replace(select, h('option', { value: '' }, 'Templates unavailable'));
      text(error, e.text || e.message);
      error.hidden = false;
    }
  }

  function pick() {
    current = select.value === '' ? null : templates[Number(select.value)];
    const body = current ? bodyOf(current) : null;
    vars = body ? variables(body.text) : [];
    inputs = vars.map((v) => h('input', { type: 'text', 'data-test': 'template-param', 'data-param': v, placeholder: '{{' + v + '}}', 'aria-label': 'Parameter ' + v,
      on: { input: paintPreview, keydown: (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); submit(); } } } }));
    replace(params, inputs.map((inp, i) => h('label', { class: 'param' }, h('span', { class: 'muted' }, '{{' + vars[i] + '}}'), inp)));
    paintPreview();
    if (inputs[0]) inputs[0].focus();
  }

  function paintPreview() {
    const body = current ? bodyOf(current) : null;
    let s = body ? String(body.text || '') : '';
    vars.forEach((v, i) => { s = s.split(new RegExp('\\{\\{\\s*' + v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '\\s*\\}\\}', 'g')).join(inputs[i].value || '{{' + v + '}}'); });
    text(preview, s);
    send.disabled = !current || inputs.some((i) => !i.value.trim());
  }

  async function submit() {
    const conv = opts.conversation();
    if (!current || !conv || send.disabled) return;
    const named = String(current.parameterFormat || '').toUpperCase() === 'NAMED' || vars.some((v) => !/^\d+$/.test(v));
    const template = { name: current.name, language: { code: current.language } };
    if (vars.length) {
      template.components = [{ type: 'body', parameters: vars.map((v, i) => (named
        ? { type: 'text', parameter_name: v, text: inputs[i].value }
        : { type: 'text', text: inputs[i].value })) }];
    }
    send.disabled = true;
    error.hidden = true;
    try {
      const d = await ctx.api.post('/api/whatsapp/messages/template', { to: conv.customerId, phoneNumberId: conv.phoneNumberId || undefined, template },
        { idempotencyKey: newKey() });
      for (const i of inputs) i.value = '';
      paintPreview();
      if (d && d.message) opts.onSent(d.message);
    } catch (e) {
      text(error, sendError(e, opts));
      error.hidden = false;
      send.disabled = false;
    }
  }

  load();
  const el = h('div', { class: 'composer template', 'data-test': 'template-picker' }, note, error,
    h('div', { class: 'row' }, select, send), params, preview);
  return { el, destroy() { destroyed = true; } };
}
