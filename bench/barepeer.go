package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/wacc/engine/gateway/webhook"
)

// The bare Go peer of ingest.
//
// A net/http server that reads the body, verifies X-Hub-Signature-256 and
// answers 200, nothing else: what any Go server pays per webhook on this
// machine. It runs as a child process of the bench (this executable with
// the hidden command childBareWebhook), like the engine and the Express
// peers, so that its CPU per request is its own process's (utime+stime),
// measured the same way at the same fixed-rate steps, and the load
// generator does not share its process.

// childBareWebhook is the hidden command that serves the bare handler on
// --port until SIGTERM; the app secret is in bareSecretEnv.
const childBareWebhook = "child-bare-webhook"

// bareSecretEnv carries the app secret to the bare child.
const bareSecretEnv = "BENCH_BARE_APP_SECRET"

// bareWebhookHandler reads the body, verifies its signature with secret and
// answers 200 (401 on a bad signature).
func bareWebhookHandler(secret string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 3<<20))
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		if !webhook.VerifySignature(body, r.Header.Get(webhook.SignatureHeader), secret) {
			http.Error(w, "signature", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

// serveBareWebhook serves the bare handler on l until ctx ends.
func serveBareWebhook(ctx context.Context, l net.Listener, secret string) error {
	srv := &http.Server{Handler: bareWebhookHandler(secret), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	select {
	case err := <-done:
		return fmt.Errorf("bare webhook server: %w", err)
	case <-ctx.Done():
	}
	_ = srv.Close()
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("bare webhook server: %w", err)
	}
	return nil
}

// runChildBareWebhook is the child's side: listen on 127.0.0.1:--port and
// serve until ctx ends (main's context ends on SIGTERM).
func runChildBareWebhook(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet(childBareWebhook, flag.ContinueOnError)
	port := fs.Int("port", 0, "port on 127.0.0.1")
	if err := fs.Parse(args); err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(*port))
	if err != nil {
		return fmt.Errorf("bare webhook server: %w", err)
	}
	return serveBareWebhook(ctx, l, os.Getenv(bareSecretEnv))
}

// startBarePeer starts the bare handler as a child process (this
// executable) with secret and waits until it answers. The answer is an
// engine so that the load and the CPU accounting are the engine's; the
// caller stops it.
func (e *Env) startBarePeer(ctx context.Context, secret string) (*engine, error) {
	bin, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("start the bare webhook child: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, childBareWebhook, "--port", strconv.Itoa(port))
	cmd.Env = append(os.Environ(), bareSecretEnv+"="+secret)
	var stderr bytes.Buffer
	cmd.Stdout = io.Discard
	cmd.Stderr = &limitedWriter{b: &stderr, max: 64 << 10}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the bare webhook child: %w", err)
	}
	g := &engine{URL: "http://127.0.0.1:" + strconv.Itoa(port), AppSecret: secret, cmd: cmd, exited: make(chan struct{}),
		stderr: &stderr, Client: newClient(e.Opts.Conns)}
	go func() { _ = cmd.Wait(); close(g.exited) }()
	// Any HTTP answer means the server listens.
	if err := awaitChild(ctx, g.Client, g.URL+"/", "start the bare webhook child", g.exited, &stderr, 50*time.Millisecond, 30*time.Second, nil); err != nil {
		_ = g.Stop()
		return nil, err
	}
	return g, nil
}
