package clustertest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wacc/engine/persistence/servicetest"
)

// EtcdBin is Debian's etcd-server binary (.ci/run installs the package).
const EtcdBin = "/usr/bin/etcd"

// Etcd is an etcd server of one test.
type Etcd struct {
	t    testing.TB
	cmd  *exec.Cmd
	done chan struct{}
	// Endpoint is its client URL, http://127.0.0.1:<port>.
	Endpoint string
	out      *lockedBuffer
}

// StartEtcd starts an etcd server on free loopback ports with a data
// directory of the test's, stopped when the test ends; it skips or fails t
// when etcd is not installed (see servicetest.Required).
func StartEtcd(t testing.TB) *Etcd {
	t.Helper()
	return StartEtcdOn(t, "127.0.0.1")
}

// StartEtcdOn is StartEtcd on the address ip (a test network's bridge).
func StartEtcdOn(t testing.TB, ip string) *Etcd {
	t.Helper()
	if _, err := os.Stat(EtcdBin); err != nil {
		msg := fmt.Sprintf("etcd is not installed at %s (Debian package etcd-server; .ci/run installs it): %v", EtcdBin, err)
		if servicetest.Required() {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING: " + msg)
	}
	client, peer := FreePort(t), FreePort(t)
	e := &Etcd{t: t, Endpoint: fmt.Sprintf("http://%s:%d", ip, client), out: &lockedBuffer{}, done: make(chan struct{})}
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peer)
	e.cmd = exec.Command(EtcdBin,
		"--name", "test", "--data-dir", t.TempDir(),
		"--listen-client-urls", e.Endpoint, "--advertise-client-urls", e.Endpoint,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "test="+peerURL, "--initial-cluster-state", "new",
		// Leases are what membership expires by: a short tick keeps
		// their expiry close to their TTL.
		"--heartbeat-interval", "50", "--election-timeout", "500",
	)
	e.cmd.Stdout, e.cmd.Stderr = e.out, e.out
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := e.cmd.Start(); err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	go func() { _ = e.cmd.Wait(); close(e.done) }()
	t.Cleanup(e.Stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(e.Endpoint + "/health")
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return e
			}
		}
		select {
		case <-e.done:
			t.Fatalf("etcd exited before it answered:\n%s", tail(e.out.String(), 4000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd did not answer /health within 30 s:\n%s", tail(e.out.String(), 4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Addr is the client endpoint as host:port (CLUSTER_ETCD_ENDPOINTS' form).
func (e *Etcd) Addr() string { return strings.TrimPrefix(e.Endpoint, "http://") }

// Stop kills the server and waits for it.
func (e *Etcd) Stop() {
	select {
	case <-e.done:
		return
	default:
	}
	_ = e.cmd.Process.Kill()
	<-e.done
}

// FreePort is a loopback TCP port nothing listened on a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
