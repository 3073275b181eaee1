package clustertest

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/wacc/engine/persistence/servicetest"
)

// Net is a test network of network namespaces on this machine: every host
// (engine node) gets a namespace of its own with two links, each a veth
// pair whose other end is on a bridge of the test's:
//   - data: the host's HTTP listener and its way to MongoDB, Redis and
//     RabbitMQ (through TCP proxies of the test process on the data
//     bridge's address, since those servers listen on 127.0.0.1 only);
//   - cluster: etcd (on the cluster bridge's address) and the other nodes'
//     cluster addresses.
//
// Cut takes a host's cluster link down: the node keeps its store and its
// clients, and loses its membership and its peers, as the minority side
// of a partition; Heal brings the link back.
type Net struct {
	t                testing.TB
	id               string
	dataNet, clusNet int // second octet of 10.x.0.0/24
	dataBr, clusBr   string
	hosts            map[string]*NetHost
	mu               sync.Mutex
}

// NetHost is one namespace of a Net.
type NetHost struct {
	Name, Netns string
	// DataIP and ClusterIP are its addresses on the two links.
	DataIP, ClusterIP string
	clusLink          string // host side of the cluster veth
}

// NewNet makes the two bridges (removed when the test ends). It skips or
// fails t (see servicetest.Required) when namespaces cannot be made here:
// it needs root and iproute2's ip.
func NewNet(t testing.TB) *Net {
	t.Helper()
	if os.Geteuid() != 0 {
		need(t, "network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		need(t, "network namespaces need iproute2's ip: "+err.Error())
	}
	n := &Net{t: t, id: ID()[:6], hosts: map[string]*NetHost{}}
	n.dataNet = 64 + rand.IntN(90)*2
	n.clusNet = n.dataNet + 1
	n.dataBr, n.clusBr = "bd"+n.id, "bc"+n.id
	t.Cleanup(n.remove)
	for _, br := range []struct {
		name string
		net  int
	}{{n.dataBr, n.dataNet}, {n.clusBr, n.clusNet}} {
		n.ip("link", "add", br.name, "type", "bridge")
		n.ip("addr", "add", fmt.Sprintf("10.%d.0.254/24", br.net), "dev", br.name)
		n.ip("link", "set", br.name, "up")
	}
	return n
}

func need(t testing.TB, msg string) {
	t.Helper()
	if servicetest.Required() {
		t.Fatal(msg)
	}
	t.Skip("SKIPPING: " + msg)
}

// DataGateway and ClusterGateway are the bridges' addresses (the test
// process's side).
func (n *Net) DataGateway() string    { return fmt.Sprintf("10.%d.0.254", n.dataNet) }
func (n *Net) ClusterGateway() string { return fmt.Sprintf("10.%d.0.254", n.clusNet) }

// AddHost makes the namespace of host number i (1..250).
func (n *Net) AddHost(name string, i int) *NetHost {
	n.t.Helper()
	h := &NetHost{
		Name: name, Netns: fmt.Sprintf("n%s%d", n.id, i),
		DataIP: fmt.Sprintf("10.%d.0.%d", n.dataNet, i), ClusterIP: fmt.Sprintf("10.%d.0.%d", n.clusNet, i),
	}
	n.ip("netns", "add", h.Netns)
	n.mu.Lock()
	n.hosts[name] = h
	n.mu.Unlock()
	n.ip("-n", h.Netns, "link", "set", "lo", "up")
	for _, l := range []struct {
		kind, br, addr string
	}{{"d", n.dataBr, h.DataIP}, {"c", n.clusBr, h.ClusterIP}} {
		hostSide, nsSide := fmt.Sprintf("v%s%s%d", l.kind, n.id, i), fmt.Sprintf("e%s%s%d", l.kind, n.id, i)
		n.ip("link", "add", hostSide, "type", "veth", "peer", "name", nsSide)
		n.ip("link", "set", hostSide, "master", l.br)
		n.ip("link", "set", hostSide, "up")
		n.ip("link", "set", nsSide, "netns", h.Netns)
		n.ip("-n", h.Netns, "addr", "add", l.addr+"/24", "dev", nsSide)
		n.ip("-n", h.Netns, "link", "set", nsSide, "up")
		if l.kind == "c" {
			h.clusLink = hostSide
		}
	}
	return h
}

// Cut takes the host's cluster link down (a partition); Heal brings it up.
func (n *Net) Cut(name string)  { n.ip("link", "set", n.hosts[name].clusLink, "down") }
func (n *Net) Heal(name string) { n.ip("link", "set", n.hosts[name].clusLink, "up") }

func (n *Net) ip(args ...string) {
	n.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		n.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (n *Net) remove() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, h := range n.hosts {
		_ = exec.Command("ip", "netns", "del", h.Netns).Run()
	}
	_ = exec.Command("ip", "link", "del", n.dataBr).Run()
	_ = exec.Command("ip", "link", "del", n.clusBr).Run()
}

// Proxy forwards TCP connections accepted on the data bridge's address
// (a port of its own) to target (a server on 127.0.0.1), until the test
// ends; it returns the address the namespaces dial.
func (n *Net) Proxy(target string) string {
	n.t.Helper()
	l, err := net.Listen("tcp", n.DataGateway()+":0")
	if err != nil {
		n.t.Fatalf("proxy to %s: %v", target, err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	n.t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				_ = in.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, in, out)
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(out, in); _ = out.Close() }()
			go func() { defer wg.Done(); _, _ = io.Copy(in, out); _ = in.Close() }()
		}
	}()
	return l.Addr().String()
}
