// Package clustertest runs the multi-node tests' parts as real processes on
// loopback: an etcd server (Debian's etcd-server, /usr/bin/etcd) on ports of
// its own with a temporary data directory, and engine processes built from
// cmd/engine that share it, one MongoDB (FerretDB on the local PostgreSQL,
// see persistence/servicetest), Redis and RabbitMQ, each engine with
// CLUSTER_PROVIDER=etcd and a CLUSTER_BIND port of its own. A Node can be
// killed (SIGKILL), frozen (SIGSTOP) and thawed (SIGCONT), stopped and
// restarted on the same ports and database; its metrics are read from its
// operations listener. It also has the HTTP client side the tests need:
// signed webhooks (Meta's X-Hub-Signature-256), logins and API calls.
//
// Every service a test needs is checked the way persistence/servicetest
// checks them: missing, the test skips with a loud message, or fails when
// ENGINE_REQUIRE_SERVICES=1 (CI).
package clustertest
