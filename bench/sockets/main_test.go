package sockets

import (
	"os"
	"testing"
)

// TestMain lets EchoPeer start this test binary as its echo child, as the
// bench CLI's main does.
func TestMain(m *testing.M) {
	if ServeEchoChild() {
		return
	}
	os.Exit(m.Run())
}
