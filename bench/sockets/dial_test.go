package sockets

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSourceAddrs(t *testing.T) {
	addrs, err := sourceAddrs(3)
	require.NoError(t, err)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3"), netip.MustParseAddr("127.0.0.4")}, addrs)
	_, err = sourceAddrs(0)
	require.Error(t, err)
	_, err = sourceAddrs(251)
	require.Error(t, err)
}

func TestSourceAddrsFor(t *testing.T) {
	for _, tc := range []struct {
		host string
		n    int
		want int
	}{
		{"127.0.0.1", 2000, 0},
		{"127.0.0.1", 20000, 0},
		{"127.0.0.1", 20001, 2},
		{"127.0.0.1", 100000, 5},
		{"localhost", 100000, 5},
		{"10.0.0.5", 100000, 0},
		{"engine.example.com", 100000, 0},
		{"::1", 100000, 0},
	} {
		assert.Equal(t, tc.want, sourceAddrsFor(tc.host, tc.n), "%s %d", tc.host, tc.n)
	}
}

// TestCyclingDialer dials a local listener and checks each connection
// comes from the next source address in turn.
func TestCyclingDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	remotes := make(chan string, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			remotes <- c.RemoteAddr().(*net.TCPAddr).IP.String()
			_ = c.Close()
		}
	}()
	addrs, err := sourceAddrs(3)
	require.NoError(t, err)
	d := newCyclingDialer(addrs, 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []string
	for i := 0; i < 7; i++ {
		c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
		require.NoError(t, err)
		_ = c.Close()
		select {
		case ip := <-remotes:
			got = append(got, ip)
		case <-ctx.Done():
			t.Fatal("listener saw no connection")
		}
	}
	assert.Equal(t, []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.2"}, got)
}

func TestRaiseFileLimit(t *testing.T) {
	limit, err := raiseFileLimit(64)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, limit, uint64(64))
}

func TestFitFileLimitCapsSockets(t *testing.T) {
	extra := map[string]float64{}
	assert.Equal(t, 10, fitFileLimit(extra, 10, 2, func(string) {}))
	assert.NotContains(t, extra, "sockets_capped_by_rlimit")

	// More than the kernel allows any process (fs.nr_open ≤ 2^30 here).
	var said []string
	got := fitFileLimit(extra, 1<<31, 1, func(s string) { said = append(said, s) })
	assert.Less(t, got, 1<<31)
	assert.Equal(t, int(extra["rlimit_nofile"])-fdsReserve, got)
	assert.Equal(t, 1.0, extra["sockets_capped_by_rlimit"])
	require.Len(t, said, 1)
	assert.Contains(t, said[0], "holds only")
}
