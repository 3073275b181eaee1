// store.js: the console's state (conversations, messages, customers,
// notifications, connection) and a tiny publish/subscribe. The socket's
// frames are applied here; views subscribe to topics and re-render.

export class Store {
  constructor() {
    this.user = null;
    this.conversations = new Map(); // id → conversation
    this.messages = new Map(); // conversationId → Map(messageId → message)
    this.customers = new Map(); // id → customer
    this.notifications = new Map(); // id → notification
    this.connection = 'closed';
    this.openConversationId = '';
    this.listeners = new Map(); // topic → Set(fn)
  }

  // reset forgets everything of the signed-in user (logout).
  reset() {
    this.user = null;
    this.conversations.clear();
    this.messages.clear();
    this.customers.clear();
    this.notifications.clear();
    this.openConversationId = '';
    this.listeners.clear();
    this.connection = 'closed';
  }

  // on subscribes fn to topic and returns the unsubscribe function.
  on(topic, fn) {
    if (!this.listeners.has(topic)) this.listeners.set(topic, new Set());
    this.listeners.get(topic).add(fn);
    return () => this.listeners.get(topic)?.delete(fn);
  }

  emit(topic, data) {
    for (const fn of [...(this.listeners.get(topic) || [])]) {
      try { fn(data); } catch (e) { console.error('store listener', topic, e); }
    }
  }

  setConnection(state) {
    if (this.connection === state) return;
    this.connection = state;
    this.emit('connection', state);
  }

  // upsertConversation keeps the newest version (by updatedAt) of c.
  upsertConversation(c) {
    const old = this.conversations.get(c.id);
    if (old && old.updatedAt && c.updatedAt && time(c.updatedAt) < time(old.updatedAt)) return old;
    const next = { ...old, ...c };
    this.conversations.set(c.id, next);
    this.emit('conversation', next);
    return next;
  }

  // upsertMessage merges m into the message it updates; its status never
  // moves backwards, unless redriven (a failed message the engine sent
  // again after a re-drive of the dead letters).
  upsertMessage(m, redriven) {
    if (!this.messages.has(m.conversationId)) this.messages.set(m.conversationId, new Map());
    const byID = this.messages.get(m.conversationId);
    const old = byID.get(m.id);
    const next = { ...old, ...m };
    if (old && !redriven && rank(old.status) > rank(m.status)) next.status = old.status; // never backwards
    byID.set(m.id, next);
    this.emit('message', next);
    return next;
  }

  setCustomer(c) {
    this.customers.set(c.id, c);
    this.emit('customer', c);
  }

  addNotification(n) {
    if (this.notifications.has(n.id)) return;
    this.notifications.set(n.id, n);
    this.emit('notifications', this.unreadNotifications());
  }

  unreadNotifications() {
    let n = 0;
    for (const x of this.notifications.values()) if (!x.readAt) n++;
    return n;
  }

  // applyFrame applies one socket frame ({type, data, cursor?}).
  applyFrame(f) {
    const d = f.data || {};
    switch (f.type) {
      case 'message.created':
      case 'message.updated': {
        const m = this.upsertMessage(d);
        const c = this.conversations.get(m.conversationId);
        if (!c || !c.state) this.emit('unknown-conversation', m.conversationId);
        if (f.type === 'message.created') {
          // A patch, not a version: no updatedAt (the server's next
          // conversation frame or read wins over it).
          const patch = { id: m.conversationId, activityAt: m.createdAt, lastMessage: m };
          if (m.direction === 'inbound') {
            patch.lastInboundAt = m.createdAt;
            if (m.conversationId !== this.openConversationId) patch.unread = ((c && c.unread) || 0) + 1;
          }
          this.upsertConversation(patch);
        }
        break;
      }
      case 'message.status': {
        const byID = this.messages.get(d.conversationId);
        const old = byID && byID.get(d.messageId);
        if (!old) break; // a message nobody shows: read with its thread
        // The engine moves a status only forward and publishes each move in
        // order, but for a failed message re-driven from the dead letters:
        // its next status frame (sent, then delivered, read) follows
        // failed, and the failure's error no longer holds.
        const redriven = old.status === 'failed' && d.status !== 'failed';
        this.upsertMessage({ ...(old || {}), id: d.messageId, conversationId: d.conversationId, status: d.status,
          waMessageId: d.waMessageId || (old && old.waMessageId) || null,
          error: redriven ? null : d.error || (old && old.error) }, redriven);
        break;
      }
      case 'conversation.updated':
        this.upsertConversation(d);
        break;
      case 'conversation.assigned': {
        const { lastMessage, ...c } = d;
        if (lastMessage) {
          this.upsertMessage(lastMessage);
          c.lastMessage = lastMessage;
        }
        this.upsertConversation(c);
        this.emit('assigned', c);
        break;
      }
      case 'notification':
        this.addNotification(d);
        break;
      case 'call.updated':
        this.emit('call', d);
        break;
      case 'session.resync':
        this.emit('resync', d);
        break;
      default:
        break;
    }
    this.emit('frame', f);
  }
}

// time is an RFC 3339 time in ms (0 when absent): compared as numbers, since
// fractions of a second have varying lengths.
export function time(iso) { return iso ? Date.parse(iso) || 0 : 0; }

const ORDER = { queued: 0, sent: 1, delivered: 2, read: 3, failed: 4, received: 0 };
function rank(s) { return ORDER[s] ?? -1; }
