// Package servicetest finds the real servers integration tests talk to
// (Redis, RabbitMQ, PostgreSQL on loopback). When a server does not answer the
// test is skipped with a loud message, or failed when ENGINE_REQUIRE_SERVICES=1
// (CI sets it), so a missing service can never pass silently in CI. Proxy
// stands between a test and such a server to cut or freeze its connections.
// FerretDB runs FerretDB as a child process of the test binary (the command
// in ./ferretd, build tag ferretd, built without -race) and returns its
// MongoDB URI; TestMain stops it with StopFerretDB. On the PostgreSQL
// handler each child gets a PostgreSQL database of its own (see
// pgdatabase.go), dropped when it stops.
package servicetest

import (
	"fmt"
	"net"
	"os"
	"testing"
	"time"
)

// Default addresses; each can be overridden by the environment variable named
// beside it.
const (
	defaultRedis    = "127.0.0.1:6379" // TEST_REDIS_ADDR
	defaultRabbit   = "127.0.0.1:5672" // TEST_RABBITMQ_ADDR
	defaultPostgres = "127.0.0.1:5432" // TEST_POSTGRES_ADDR
)

// Required reports whether missing services must fail the run.
func Required() bool { return os.Getenv("ENGINE_REQUIRE_SERVICES") == "1" }

// RedisAddr returns host:port of a reachable Redis or skips/fails t.
func RedisAddr(t testing.TB) string {
	t.Helper()
	return need(t, "Redis", envOr("TEST_REDIS_ADDR", defaultRedis))
}

// RabbitURL returns an AMQP URL of a reachable RabbitMQ or skips/fails t.
func RabbitURL(t testing.TB) string {
	t.Helper()
	addr := need(t, "RabbitMQ", envOr("TEST_RABBITMQ_ADDR", defaultRabbit))
	return "amqp://guest:guest@" + addr + "/"
}

// PostgresURL returns a URL of the local PostgreSQL database "test" or
// skips/fails t.
func PostgresURL(t testing.TB) string {
	t.Helper()
	addr := need(t, "PostgreSQL", envOr("TEST_POSTGRES_ADDR", defaultPostgres))
	return "postgres://postgres@" + addr + "/test?sslmode=disable"
}

func need(t testing.TB, name, addr string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		conn.Close()
		return addr
	}
	msg := fmt.Sprintf("\n\n*** %s is not reachable at %s (%v) ***\n*** this test needs the real server; start it or set ENGINE_REQUIRE_SERVICES=1 to make this a failure ***\n", name, addr, err)
	if Required() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
