// Express hello-world: answers 200 to every POST, whatever the body.
// Peer of the bench's ingest scenario; PORT comes from the environment.
'use strict';
const express = require('express');

const app = express();
app.use((req, res) => {
  if (req.method === 'POST') {
    res.status(200).send('ok');
    return;
  }
  res.status(404).end();
});

const server = app.listen(Number(process.env.PORT), '127.0.0.1');
server.keepAliveTimeout = 60000;
process.on('SIGTERM', () => { server.close(() => process.exit(0)); server.closeAllConnections(); });
