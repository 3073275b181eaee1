// views/media.js: a message's medium. Stored images, audio and video are
// read with the token (GET /api/media/:id/content) into blob: URLs (the CSP
// allows blob: for img and media, nothing else); other files download on a
// click; pending and failed ones say so, with the reason.
import { h, replace } from '../dom.js';

// blobs caches each stored medium's bytes while the console is open, so a
// row re-rendered for a status change does not read them again.
const blobs = new Map();
function readBlob(api, id, path) {
  if (!blobs.has(id)) blobs.set(id, api.blob(path).catch((e) => { blobs.delete(id); throw e; }));
  return blobs.get(id);
}

export function mediaView(api, m) {
  const md = m.media;
  const label = md.filename || md.mimeType || m.type || 'file';
  const el = h('div', { class: 'message-media', 'data-test': 'message-media', 'data-media-status': md.status || '' });
  if (md.status !== 'stored' && md.status !== 'uploaded' && md.status !== 'uploading') {
    replace(el, h('span', { class: 'muted' }, '📎 ' + label + ' — ' + (md.status === 'failed' ? 'failed' : 'arriving…')),
      md.error ? h('div', { class: 'error' }, md.error) : null);
    return el;
  }
  const path = '/api/media/' + encodeURIComponent(md.id) + '/content';
  const mime = String(md.mimeType || '');
  const kind = mime.startsWith('image/') ? 'img' : mime.startsWith('audio/') ? 'audio' : mime.startsWith('video/') ? 'video' : '';
  if (kind) {
    replace(el, h('span', { class: 'muted' }, 'Loading ' + label + '…'));
    readBlob(api, md.id, path).then((b) => {
      const url = URL.createObjectURL(b);
      const attrs = kind === 'img'
        ? { src: url, alt: label, class: 'media-img', on: { load: () => URL.revokeObjectURL(url) } }
        : { src: url, controls: true, preload: 'metadata', class: 'media-' + kind };
      replace(el, h(kind, attrs));
    }, (e) => replace(el, h('span', { class: 'error' }, label + ': ' + (e.text || e.message))));
    return el;
  }
  const btn = h('button', { type: 'button', class: 'link', on: { click: async () => {
    btn.disabled = true;
    try {
      const url = URL.createObjectURL(await api.blob(path));
      const a = h('a', { href: url, download: md.filename || 'file' });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (e) {
      replace(el, btn, h('div', { class: 'error' }, e.text || e.message));
    } finally {
      btn.disabled = false;
    }
  } } }, '📎 Download ' + label + (md.size ? ' (' + Math.ceil(md.size / 1024) + ' KB)' : ''));
  replace(el, btn);
  return el;
}
