// Package persistence groups the adapters that keep the engine's state: the
// SQLite store (embedded default), the MongoDB store, the in-process and Redis
// key-value stores (revocations, rate limits, caches), the media byte stores
// (the local filesystem in fsblobs, GridFS in mongostore), and the contract
// suites every implementation of one interface must pass (storetest,
// blobtest, kvtest, queuetest). Package sealed encrypts customer data,
// message bodies and media bytes at rest for the SQLite, Mongo and byte
// stores; the contract suites run with it on and off. Package redisbus
// carries agent-socket events and presence between the nodes of a
// multi-node deployment through Redis (a stream, with resume cursors).
//
// The adapters satisfy interfaces declared by their callers (actors, gateway);
// they return the sentinel errors of package actors wrapped with context.
package persistence
