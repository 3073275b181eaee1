package servicetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
)

// Each FerretDB child on the PostgreSQL handler gets a PostgreSQL database
// of its own: FerretDB v1 keeps a cache of the schemas of its database and
// reads every one of them when it opens a pool, so two FerretDB processes
// (two test binaries of one `go test ./...`) on one PostgreSQL database
// fail each other's requests when one drops a schema the other listed
// (`relation "<schema>._ferretdb_database_metadata" does not exist`).

// createPGDatabase creates a fresh database beside the one of pgURL and
// returns its name and URL.
func createPGDatabase(pgURL string) (name, dbURL string, err error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name = "ferret_" + hex.EncodeToString(b[:])
	u, err := url.Parse(pgURL)
	if err != nil {
		return "", "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		return "", "", fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", "", fmt.Errorf("create database %s: %w", name, err)
	}
	u.Path = "/" + name
	return name, u.String(), nil
}

// dropPGDatabase drops a database createPGDatabase made, closing the
// connections still open to it.
func dropPGDatabase(pgURL, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}
