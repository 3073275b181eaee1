package clustertest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wacc/engine/persistence/servicetest"
)

// Fixed secrets of the engines the tests start.
const (
	AppSecret     = "cluster-app-secret"
	AdminEmail    = "admin@example.com"
	AdminPassword = "admin-password-123"
)

// Cluster is a set of engine processes sharing one etcd, MongoDB, Redis and
// RabbitMQ, each its own cluster member.
type Cluster struct {
	t     testing.TB
	Etcd  *Etcd
	Nodes []*Node
	// Shared is the environment every node has in common (the services,
	// the secrets, the cluster's name).
	Shared map[string]string
	// Net is the nodes' test network (Options.Partitionable), else nil.
	Net *Net
	// mongoURI is MongoDB's address from the test process (the nodes'
	// may be a proxy's).
	mongoURI string
}

// Options shape a Cluster.
type Options struct {
	// Nodes is how many engines to start (3 when 0).
	Nodes int
	// Env is added to every node's environment (over the defaults).
	Env map[string]string
	// Partitionable runs each node in a network namespace of its own (see
	// Net): Cluster.Net can then cut a node's cluster link.
	Partitionable bool
}

// ID is a short random id for the names a test must not share with another
// (databases, Redis prefixes, queues, cluster names).
func ID() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// NewCluster starts etcd and o.Nodes engines (n1, n2, ...) on loopback, one
// after another, each with CLUSTER_BIND on a port of its own. The
// services come from persistence/servicetest (MongoDB is FerretDB on the
// local PostgreSQL; the test binary's TestMain must call
// servicetest.StopFerretDB and Cleanup).
func NewCluster(t testing.TB, o Options) *Cluster {
	t.Helper()
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	id := ID()
	mongoURI := servicetest.FerretDB(t, servicetest.FerretPostgres)
	redisAddr, rabbitURL := servicetest.RedisAddr(t), servicetest.RabbitURL(t)
	var netw *Net
	var etcd *Etcd
	nodeMongo := mongoURI
	if o.Partitionable {
		netw = NewNet(t)
		etcd = StartEtcdOn(t, netw.ClusterGateway())
		u, err := url.Parse(mongoURI)
		if err != nil {
			t.Fatalf("FerretDB's URI %q: %v", mongoURI, err)
		}
		u.Host = netw.Proxy(u.Host)
		nodeMongo = u.String()
		redisAddr = netw.Proxy(redisAddr)
		r, err := url.Parse(rabbitURL)
		if err != nil {
			t.Fatalf("RabbitMQ's URL %q: %v", rabbitURL, err)
		}
		r.Host = netw.Proxy(r.Host)
		rabbitURL = r.String()
	} else {
		etcd = StartEtcd(t)
	}
	shared := map[string]string{
		"APP_ENV": "development", "HOST": "127.0.0.1", "PORT": "0", "SANDBOX_PORT": "0", "SANDBOX_EXOTEL_PORT": "0",
		"LOG_LEVEL": "info", "METRICS_ADDR": "127.0.0.1:0",
		"JWT_SECRET": strings.Repeat("j", 40), "JWT_REFRESH_SECRET": strings.Repeat("r", 40),
		"WHATSAPP_APP_SECRET": AppSecret, "WHATSAPP_VERIFY_TOKEN": "verify-me",
		"ADMIN_EMAIL": AdminEmail, "ADMIN_PASSWORD": AdminPassword,
		"RATE_LIMIT_API_PER_MIN": "1000000", "RATE_LIMIT_AUTH_PER_MIN": "1000000",
		"SANDBOX_ASSUME_WINDOW_OPEN": "true", "SANDBOX_STATUS_DELAY": "20ms",
		"WHATSAPP_ACCESS_TOKEN": "", "EXOTEL_API_TOKEN": "",
		"MONGODB_URI":      nodeMongo,
		"MONGODB_DATABASE": "cluster_" + id,
		"REDIS_URL":        "redis://" + redisAddr + "/0",
		"REDIS_PREFIX":     "cluster-" + id + ":",
		"RABBITMQ_URL":     rabbitURL,
		"RABBITMQ_QUEUE":   "cluster-" + id + "-outbound", "RABBITMQ_CALL_QUEUE": "cluster-" + id + "-calls",
		"CLUSTER_PROVIDER": "etcd", "CLUSTER_ETCD_ENDPOINTS": etcd.Addr(), "CLUSTER_NAME": "engine-" + id,
	}
	if lv := os.Getenv("CLUSTERTEST_LOG_LEVEL"); lv != "" {
		// debug traces every webhook item and inbound message by wamid.
		shared["LOG_LEVEL"] = lv
	}
	maps.Copy(shared, o.Env)
	c := &Cluster{t: t, Etcd: etcd, Shared: shared, Net: netw, mongoURI: mongoURI}
	for i := range o.Nodes {
		c.Add(fmt.Sprintf("n%d", i+1))
	}
	return c
}

// Add starts one more node named name, with the shared environment, a
// DATA_DIR and a CLUSTER_BIND port of its own.
func (c *Cluster) Add(name string) *Node {
	c.t.Helper()
	env := maps.Clone(c.Shared)
	env["DATA_DIR"] = c.t.TempDir()
	netns := ""
	if c.Net != nil {
		h := c.Net.AddHost(name, len(c.Nodes)+1)
		netns = h.Netns
		env["HOST"], env["METRICS_ADDR"] = h.DataIP, h.DataIP+":0"
		env["CLUSTER_BIND"] = h.ClusterIP + ":7000"
	} else {
		env["CLUSTER_BIND"] = fmt.Sprintf("127.0.0.1:%d", FreePort(c.t))
	}
	n := StartNodeIn(c.t, name, netns, env)
	c.Nodes = append(c.Nodes, n)
	return n
}

// Running is the nodes whose process runs.
func (c *Cluster) Running() []*Node {
	var out []*Node
	for _, n := range c.Nodes {
		if n.Running() {
			out = append(out, n)
		}
	}
	return out
}

// WaitMembers waits until every running node reports n members
// (engine_cluster_members), failing t after wait.
func (c *Cluster) WaitMembers(t testing.TB, n int, wait time.Duration) {
	t.Helper()
	c.WaitMembersOf(t, c.Running(), n, wait)
}

// WaitMembersOf is WaitMembers for some nodes only.
func (c *Cluster) WaitMembersOf(t testing.TB, nodes []*Node, n int, wait time.Duration) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		ok := true
		var got []string
		for _, node := range nodes {
			m := node.Metric("engine_cluster_members")
			got = append(got, fmt.Sprintf("%s=%v", node.Name, m))
			if int(m) != n {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("members after %s: %v, want %d each", wait, got, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
