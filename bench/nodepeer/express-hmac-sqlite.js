// Express verifying the webhook's X-Hub-Signature-256 (HMAC-SHA256 of the
// raw body with APP_SECRET, compared with crypto.timingSafeEqual), then
// inserting the body into a better-sqlite3 table in WAL mode before it
// answers 200; 401 on a missing or bad signature.
// Peer of the bench's ingest scenario; PORT, APP_SECRET and DB_PATH come
// from the environment.
'use strict';
const crypto = require('crypto');
const express = require('express');
const Database = require('better-sqlite3');

const secret = process.env.APP_SECRET;
if (!secret) {
  console.error('APP_SECRET is required');
  process.exit(2);
}
const db = new Database(process.env.DB_PATH || 'webhooks.db');
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL'); // as the engine's SQLite store
db.exec('CREATE TABLE IF NOT EXISTS webhooks (id INTEGER PRIMARY KEY, received_at INTEGER NOT NULL, body BLOB NOT NULL)');
const insert = db.prepare('INSERT INTO webhooks (received_at, body) VALUES (?, ?)');

function verified(body, header) {
  if (typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const got = Buffer.from(header.slice('sha256='.length), 'hex');
  const want = crypto.createHmac('sha256', secret).update(body).digest();
  return got.length === want.length && crypto.timingSafeEqual(got, want);
}

const app = express();
app.post('/api/whatsapp/webhook', express.raw({ type: '*/*', limit: '3mb' }), (req, res) => {
  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  if (!verified(body, req.get('X-Hub-Signature-256'))) {
    res.status(401).send('signature');
    return;
  }
  insert.run(Date.now(), body);
  res.status(200).send('ok');
});

const server = app.listen(Number(process.env.PORT), '127.0.0.1');
server.keepAliveTimeout = 60000;
process.on('SIGTERM', () => { server.close(() => { db.close(); process.exit(0); }); server.closeAllConnections(); });
