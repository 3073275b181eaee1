//go:build ferretd

// Command ferretd runs FerretDB (the embedded library, github.com/FerretDB/
// FerretDB/ferretdb) as a process of its own for the tests: servicetest.
// FerretDB builds it without -race and starts it, so FerretDB's code and
// its SQLite are not race-instrumented in the test binaries. It listens on
// -listen, prints the MongoDB URI it serves on stdout (one line) once
// listening, and exits when its stdin is closed (its parent ended, however
// it ended) or on SIGTERM or SIGINT. The build tag keeps it out of
// `go build ./...`.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	handler := flag.String("handler", "sqlite", "FerretDB handler: sqlite or postgresql")
	pgURL := flag.String("postgresql-url", "", "PostgreSQL URL (handler postgresql)")
	sqliteDir := flag.String("sqlite-dir", "", "directory of the SQLite files (handler sqlite)")
	listen := flag.String("listen", "127.0.0.1:0", "TCP address to listen on")
	flag.Parse()

	cfg := &ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *listen},
		Logger:        logger(),
		Handler:       *handler,
		PostgreSQLURL: *pgURL,
	}
	switch *handler {
	case "sqlite":
		if *sqliteDir == "" {
			fail(fmt.Errorf("-sqlite-dir is required with the sqlite handler"))
		}
		cfg.SQLiteURL = "file:" + *sqliteDir + "/"
	case "postgresql":
		if *pgURL == "" {
			fail(fmt.Errorf("-postgresql-url is required with the postgresql handler"))
		}
	default:
		fail(fmt.Errorf("unknown handler %q", *handler))
	}
	f, err := ferretdb.New(cfg)
	if err != nil {
		fail(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		// EOF (or any error) on stdin: the parent is gone or wants us gone.
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx)
	}()
	// MongoDBURI waits for the listener, so the URI printed is being served.
	fmt.Println(f.MongoDBURI())
	<-done
}

// logger discards FerretDB's logs unless FERRETDB_LOG=1 (then on stderr).
func logger() *slog.Logger {
	if os.Getenv("FERRETDB_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "ferretd:", err)
	os.Exit(1)
}
