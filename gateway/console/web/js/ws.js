// ws.js: the agent socket. Connects to /ws?access_token=… (and &cursor=
// when resuming), shows its state in the store ([data-test=connection]),
// reconnects with exponential backoff and jitter (capped at 10 s) and keeps
// the last cursor a frame carried. After a reconnect that could not resume
// (the engine keeps no cursors, or it answered session.resync) the store
// emits 'catchup' and the open views reload from the API. Frames go to
// store.applyFrame. A rotated access token is handed to the open socket
// (auth frame) so its session never lapses.

const MAX_DELAY = 10000;
const BASE_DELAY = 500;

export class Socket {
  constructor(api, store) {
    this.api = api;
    this.store = store;
    this.sock = null;
    this.want = false;
    this.cursor = '';
    this.attempt = 0;
    this.timer = 0;
    this.connectedOnce = false;
    window.addEventListener('online', () => { if (this.want && !this.sock) this.reconnectNow(); });
  }

  connect() {
    this.want = true;
    if (!this.sock) this.open();
  }

  // close ends the socket for good (logout) and forgets the cursor.
  close() {
    this.want = false;
    clearTimeout(this.timer);
    const s = this.sock;
    this.sock = null;
    if (s) { try { s.close(1000, 'bye'); } catch { /* already closed */ } }
    this.cursor = '';
    this.connectedOnce = false;
    this.attempt = 0;
    this.store.setConnection('closed');
  }

  // drop cuts the socket as a network failure would (the client reconnects).
  drop() {
    if (this.sock) this.sock.close(4000, 'client drop');
  }

  send(type, data) {
    if (this.sock && this.sock.readyState === WebSocket.OPEN) {
      this.sock.send(JSON.stringify({ type, data }));
      return true;
    }
    return false;
  }

  // renew hands a fresh access token to the open session.
  renew(token) { this.send('auth', { accessToken: token }); }

  reconnectNow() {
    clearTimeout(this.timer);
    this.attempt = 0;
    this.open();
  }

  async open() {
    if (!this.want || this.sock) return;
    if (!this.api.signedIn) return;
    this.store.setConnection('connecting');
    // A token about to expire, or failing upgrades (a 401 shows only as a
    // failed connection), is rotated first.
    if (this.api.expiresAt - Date.now() < 30000 || this.attempt >= 2) {
      try { await this.api.refresh(); } catch (e) {
        if (!this.api.signedIn) return; // the session ended: login page
      }
    }
    if (!this.want || this.sock) return;
    // A cursor that keeps failing (refused at the upgrade) is dropped; the
    // views catch up from the API instead.
    if (this.attempt >= 3) this.cursor = '';
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let url = proto + '//' + location.host + '/ws?access_token=' + encodeURIComponent(this.api.accessToken);
    const resuming = this.cursor !== '';
    if (resuming) url += '&cursor=' + encodeURIComponent(this.cursor);
    let s;
    try {
      s = new WebSocket(url);
    } catch (e) {
      this.schedule();
      return;
    }
    this.sock = s;
    s.addEventListener('message', (ev) => {
      if (this.sock !== s) return;
      let f;
      try { f = JSON.parse(ev.data); } catch { return; }
      if (f.cursor) this.cursor = f.cursor;
      this.onFrame(f, resuming);
    });
    s.addEventListener('close', (ev) => {
      if (this.sock !== s) return;
      this.sock = null;
      this.store.setConnection(this.want ? 'connecting' : 'closed');
      if (!this.want) return;
      if (ev.code === 1008 || ev.code === 4001) {
        // Revoked, role changed, logged out elsewhere, or expired: a
        // refresh decides whether the session lives on.
        this.api.refresh().then(() => this.schedule(), () => { if (this.api.signedIn) this.schedule(); });
        return;
      }
      this.schedule();
    });
  }

  onFrame(f, resuming) {
    switch (f.type) {
      case 'hello': {
        const d = f.data || {};
        if (d.cursor) this.cursor = d.cursor;
        this.attempt = 0;
        this.store.setConnection('open');
        // Without a replay (a first socket, no cursor kept, or an engine
        // that keeps none) what happened before this socket's live events
        // is read from the API: the views loaded it, perhaps before the
        // socket was open.
        if (!(resuming && d.cursor)) this.store.emit('catchup', { reason: this.connectedOnce ? 'reconnect' : 'connect' });
        this.connectedOnce = true;
        break;
      }
      case 'session.expired':
        this.api.refresh().catch(() => {}); // onSession sends the auth frame
        break;
      case 'session.resync':
        this.store.emit('catchup', { reason: (f.data && f.data.reason) || 'resync' });
        break;
      case 'pong':
      case 'ack':
        break;
      case 'error':
        console.warn('socket error frame', f.data);
        break;
      default:
        this.store.applyFrame(f);
    }
  }

  schedule() {
    clearTimeout(this.timer);
    if (!this.want) return;
    const ceiling = Math.min(MAX_DELAY, BASE_DELAY * 2 ** this.attempt);
    const delay = ceiling / 2 + Math.random() * ceiling / 2;
    this.attempt++;
    this.store.setConnection('connecting');
    this.timer = setTimeout(() => this.open(), delay);
  }
}
