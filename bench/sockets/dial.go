package sockets

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"
)

// socketsPerSourceAddr is how many sockets one source address carries
// before another is added: below the ~28k ephemeral ports Linux offers by
// default (32768-60999), with room for the scenario's HTTP connections.
const socketsPerSourceAddr = 20000

// sourceAddrs returns n addresses 127.0.0.2, 127.0.0.3, ... (n ≤ 250).
func sourceAddrs(n int) ([]netip.Addr, error) {
	if n < 1 || n > 250 {
		return nil, fmt.Errorf("source addresses: %d not in 1..250", n)
	}
	out := make([]netip.Addr, n)
	for i := range out {
		out[i] = netip.AddrFrom4([4]byte{127, 0, 0, byte(2 + i)})
	}
	return out, nil
}

// sourceAddrsFor is how many source addresses n sockets to host need: 0
// (let the kernel choose) for a small n or a host that is not a loopback
// address.
func sourceAddrsFor(host string, n int) int {
	if n <= socketsPerSourceAddr {
		return 0
	}
	ip, err := netip.ParseAddr(host)
	if host == "localhost" {
		ip, err = netip.MustParseAddr("127.0.0.1"), nil
	}
	if err != nil || !ip.IsLoopback() || !ip.Is4() {
		return 0
	}
	k := (n + socketsPerSourceAddr - 1) / socketsPerSourceAddr
	return min(k, 250)
}

// cyclingDialer dials TCP from its source addresses in turn; with none it
// dials as net.Dialer does.
type cyclingDialer struct {
	dialers []*net.Dialer
	next    atomic.Uint64
}

func newCyclingDialer(addrs []netip.Addr, timeout time.Duration) *cyclingDialer {
	d := &cyclingDialer{}
	for _, a := range addrs {
		d.dialers = append(d.dialers, &net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: a.AsSlice()}})
	}
	if len(d.dialers) == 0 {
		d.dialers = []*net.Dialer{{Timeout: timeout}}
	}
	return d
}

// DialContext has the signature of http.Transport.DialContext.
func (d *cyclingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	i := d.next.Add(1) - 1
	return d.dialers[i%uint64(len(d.dialers))].DialContext(ctx, network, addr)
}

// socketClient is the HTTP client WebSocket dials go through: no pooled
// connections (each upgrade hijacks its own), dials from the source
// addresses.
func socketClient(d *cyclingDialer) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:       d.DialContext,
		DisableKeepAlives: true,
		ForceAttemptHTTP2: false,
	}}
}

// raiseFileLimit raises RLIMIT_NOFILE to at least want (soft and, as root,
// hard) and returns the soft limit in force afterwards.
func raiseFileLimit(want uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("read RLIMIT_NOFILE: %w", err)
	}
	if lim.Cur >= want {
		return lim.Cur, nil
	}
	next := lim
	next.Cur = want
	if next.Max < want {
		next.Max = want
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &next); err != nil {
		// Not privileged: take what the hard limit allows.
		next = lim
		next.Cur = lim.Max
		if err2 := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &next); err2 != nil {
			return lim.Cur, fmt.Errorf("raise RLIMIT_NOFILE to %d: %w", want, err)
		}
		return next.Cur, fmt.Errorf("raise RLIMIT_NOFILE to %d: %w (soft limit now %d)", want, err, next.Cur)
	}
	return next.Cur, nil
}
