package configs

import (
	"net"
	"strconv"
	"time"
)

// Cluster providers (CLUSTER_PROVIDER).
const (
	ClusterNone        = ""
	ClusterEtcd        = "etcd"
	ClusterAutoManaged = "automanaged"
)

// Clustered reports whether the engine joins a cluster (CLUSTER_PROVIDER is
// set).
func (c Config) Clustered() bool { return c.ClusterProvider != ClusterNone }

// ClusterAutoManagedListenPort is the port of this node's automanaged membership
// endpoint: CLUSTER_AUTOMANAGED_PORT, or CLUSTER_BIND's port plus one.
func (c Config) ClusterAutoManagedListenPort() int {
	if c.ClusterAutoManagedPort != 0 {
		return c.ClusterAutoManagedPort
	}
	_, port, err := net.SplitHostPort(c.ClusterBind)
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return 0
	}
	return n + 1
}

func validateCluster(c Config, r *report) {
	switch c.ClusterProvider {
	case ClusterNone:
		return
	}
	// The nodes share one store and one Redis: a node's own SQLite file or
	// in-process caches would split the cluster's data.
	if c.MongoURI == "" {
		r.bad("MONGODB_URI", "is required with CLUSTER_PROVIDER: every node must read and write one shared store")
	}
	if c.RedisURL == "" {
		r.bad("REDIS_URL", "is required with CLUSTER_PROVIDER: socket events, presence, rate limits and revocations are shared through Redis")
	}
	switch c.ClusterProvider {
	case ClusterEtcd:
		if len(c.ClusterEtcdEndpoints) == 0 {
			r.bad("CLUSTER_ETCD_ENDPOINTS", "is required with CLUSTER_PROVIDER=etcd")
		}
		hostPorts(r, "CLUSTER_ETCD_ENDPOINTS", c.ClusterEtcdEndpoints)
		if len(c.ClusterSeeds) > 0 {
			r.bad("CLUSTER_SEEDS", "is for CLUSTER_PROVIDER=automanaged, not etcd")
		}
	case ClusterAutoManaged:
		if len(c.ClusterSeeds) == 0 {
			r.bad("CLUSTER_SEEDS", "is required with CLUSTER_PROVIDER=automanaged")
		}
		hostPorts(r, "CLUSTER_SEEDS", c.ClusterSeeds)
		if len(c.ClusterEtcdEndpoints) > 0 {
			r.bad("CLUSTER_ETCD_ENDPOINTS", "is for CLUSTER_PROVIDER=etcd, not automanaged")
		}
	default:
		r.bad("CLUSTER_PROVIDER", "must be etcd, automanaged or unset, got %q", c.ClusterProvider)
		return
	}
	host, port, err := net.SplitHostPort(c.ClusterBind)
	switch {
	case c.ClusterBind == "":
		r.bad("CLUSTER_BIND", "is required with CLUSTER_PROVIDER")
	case err != nil || host == "" || !validPort(port, 1):
		r.bad("CLUSTER_BIND", "must be host:port with a port 1-65535 (the address the other nodes reach), got %q", c.ClusterBind)
	case host == "0.0.0.0" || host == "::":
		r.bad("CLUSTER_BIND", "must name an address the other nodes reach, not %s", host)
	}
	r.intIn("CLUSTER_AUTOMANAGED_PORT", int64(c.ClusterAutoManagedPort), 0, 65535)
	if c.ClusterProvider == ClusterAutoManaged && err == nil && strconv.Itoa(c.ClusterAutoManagedListenPort()) == port {
		r.bad("CLUSTER_AUTOMANAGED_PORT", "must differ from the port of CLUSTER_BIND")
	}
	if c.ClusterName == "" {
		r.bad("CLUSTER_NAME", "must not be empty")
	}
	r.durationIn("CLUSTER_ATTEMPT_TIMEOUT", c.ClusterAttemptTimeout, 50*time.Millisecond, 30*time.Second, "50ms and 30s")
	r.durationIn("CLUSTER_LEASE_TTL", c.ClusterLeaseTTL, time.Second, time.Minute, "1s and 1m")
}

// hostPorts refuses entries of list that are not host:port.
func hostPorts(r *report, env string, list []string) {
	for _, hp := range list {
		host, port, err := net.SplitHostPort(hp)
		if err != nil || host == "" || !validPort(port, 1) {
			r.bad(env, "%q is not host:port", hp)
		}
	}
}

// validPort reports whether p is a port number from lo to 65535.
func validPort(p string, lo int) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= lo && n <= 65535
}
