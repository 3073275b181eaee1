// Socket.IO 4 fan-out server: the peer of the bench's fanout and sockets
// scenarios. One process, no cluster, websocket transport only.
//
// A client connects to the main namespace with auth {token}, an HS256 JWT
// signed with APP_SECRET whose sub is the agent id and role "agent" or
// "supervisor"; a bad token is refused with CONNECT_ERROR. An agent's
// sockets join the room "agent:<sub>", supervisors the room "supervisors".
//
// POST /inject {"agent": "<id>", "event": {...}} emits event as "message"
// to the agent's room and the supervisors' room (one broadcast, encoded
// once) and answers 200: the same fan-out the engine does for an inbound
// message (assigned agent + supervisors), without persistence.
// GET /stats answers {"sockets","pongs","injected"}; GET /gc runs the
// garbage collector (with node --expose-gc, e.g. NODE_OPTIONS) so that the
// bench reads the RSS of live objects.
//
// PORT and APP_SECRET come from the environment; PING_INTERVAL_MS and
// PING_TIMEOUT_MS override Socket.IO's 25 s / 20 s (the bench's tests use
// a short interval to see the clients answer pings).
'use strict';
const crypto = require('crypto');
const http = require('http');
const { Server } = require('socket.io');

const secret = process.env.APP_SECRET;
if (!secret) {
  console.error('APP_SECRET is required');
  process.exit(2);
}
const pingInterval = Number(process.env.PING_INTERVAL_MS || 25000);
const pingTimeout = Number(process.env.PING_TIMEOUT_MS || 20000);

// verify answers the claims of a valid, unexpired HS256 token, or null.
function verify(token) {
  if (typeof token !== 'string') return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const want = crypto.createHmac('sha256', secret).update(parts[0] + '.' + parts[1]).digest();
  const got = Buffer.from(parts[2], 'base64url');
  if (got.length !== want.length || !crypto.timingSafeEqual(got, want)) return null;
  let header;
  let claims;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url'));
    claims = JSON.parse(Buffer.from(parts[1], 'base64url'));
  } catch {
    return null;
  }
  if (header.alg !== 'HS256' || typeof claims.sub !== 'string') return null;
  if (typeof claims.exp === 'number' && claims.exp * 1000 < Date.now()) return null;
  return claims;
}

let pongs = 0;
let injected = 0;

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/inject') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let m;
      try {
        m = JSON.parse(Buffer.concat(chunks));
      } catch {
        res.writeHead(400).end('json');
        return;
      }
      if (!m || typeof m.agent !== 'string' || m.event === undefined) {
        res.writeHead(400).end('agent and event are required');
        return;
      }
      io.to('agent:' + m.agent).to('supervisors').emit('message', m.event);
      injected++;
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
    });
    return;
  }
  if (req.method === 'GET' && req.url === '/gc') {
    if (typeof global.gc !== 'function') {
      res.writeHead(501).end('start node with --expose-gc');
      return;
    }
    global.gc();
    res.writeHead(204).end();
    return;
  }
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'Content-Type': 'application/json' })
      .end(JSON.stringify({ sockets: io.engine.clientsCount, pongs, injected }));
    return;
  }
  res.writeHead(404).end();
});
server.keepAliveTimeout = 60000;

const io = new Server(server, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  pingInterval,
  pingTimeout,
});

io.use((socket, next) => {
  const claims = verify(socket.handshake.auth && socket.handshake.auth.token);
  if (!claims) {
    next(new Error('unauthorized'));
    return;
  }
  socket.data.agent = claims.sub;
  socket.data.role = claims.role;
  next();
});

io.on('connection', (socket) => {
  socket.join(socket.data.role === 'supervisor' ? 'supervisors' : 'agent:' + socket.data.agent);
  socket.conn.on('packet', (p) => {
    if (p.type === 'pong') pongs++;
  });
});

server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => {
  io.close();
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
