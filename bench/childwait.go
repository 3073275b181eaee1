package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// awaitChild polls url every `every` until the child process answers it
// (with ready's status, or any status when ready is nil), its process
// exits, ctx ends or timeout passes. The error names what (what), with the
// child's stderr; stopping the child is the caller's.
func awaitChild(ctx context.Context, client *http.Client, url, what string, exited <-chan struct{}, stderr *bytes.Buffer,
	every, timeout time.Duration, ready func(status int) bool) error {
	deadline := time.Now().Add(timeout)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if ready == nil || ready(resp.StatusCode) {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("%s: exited: %s", what, stderr.String())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not answering after %s: %s", what, timeout, stderr.String())
		}
	}
}
