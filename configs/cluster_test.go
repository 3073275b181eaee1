package configs

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidateCluster(t *testing.T) {
	cases := []struct {
		name    string
		mutate  func(*Config)
		wantVar string // variable the error must name; "" means valid
	}{
		{name: "no cluster by default", mutate: func(*Config) {}},
		{name: "unknown provider", mutate: func(c *Config) { c.ClusterProvider = "consul" }, wantVar: "CLUSTER_PROVIDER"},
		{name: "etcd without endpoints", mutate: func(c *Config) {
			c.ClusterProvider, c.ClusterBind = ClusterEtcd, "127.0.0.1:6330"
		}, wantVar: "CLUSTER_ETCD_ENDPOINTS"},
		{name: "etcd with a bad endpoint", mutate: func(c *Config) {
			c.ClusterProvider, c.ClusterBind, c.ClusterEtcdEndpoints = ClusterEtcd, "127.0.0.1:6330", []string{"etcd"}
		}, wantVar: "CLUSTER_ETCD_ENDPOINTS"},
		{name: "etcd with seeds", mutate: func(c *Config) {
			c.ClusterProvider, c.ClusterBind, c.ClusterEtcdEndpoints = ClusterEtcd, "127.0.0.1:6330", []string{"127.0.0.1:2379"}
			c.ClusterSeeds = []string{"127.0.0.1:6331"}
		}, wantVar: "CLUSTER_SEEDS"},
		{name: "etcd valid", mutate: func(c *Config) {
			c.ClusterProvider, c.ClusterBind, c.ClusterEtcdEndpoints = ClusterEtcd, "127.0.0.1:6330", []string{"127.0.0.1:2379"}
			c.MongoURI, c.RedisURL = "mongodb://127.0.0.1:27017", "redis://127.0.0.1:6379/0"
		}},
		{name: "cluster without a shared store", mutate: func(c *Config) {
			c.ClusterProvider, c.ClusterBind, c.ClusterEtcdEndpoints = ClusterEtcd, "127.0.0.1:6330", []string{"127.0.0.1:2379"}
			c.RedisURL = "redis://127.0.0.1:6379/0"
		}, wantVar: "MONGODB_URI"},
		{name: "cluster without Redis", mutate: func(c *Config) {
			c.ClusterProvider, c.ClusterBind, c.ClusterEtcdEndpoints = ClusterEtcd, "127.0.0.1:6330", []string{"127.0.0.1:2379"}
			c.MongoURI = "mongodb://127.0.0.1:27017"
		}, wantVar: "REDIS_URL"},
		{name: "automanaged without seeds", mutate: func(c *Config) {
			c.ClusterProvider, c.ClusterBind = ClusterAutoManaged, "127.0.0.1:6330"
		}, wantVar: "CLUSTER_SEEDS"},
		{name: "automanaged valid", mutate: func(c *Config) {
			c.ClusterProvider, c.ClusterBind, c.ClusterSeeds = ClusterAutoManaged, "127.0.0.1:6330", []string{"127.0.0.1:6331", "127.0.0.1:6341"}
			c.MongoURI, c.RedisURL = "mongodb://127.0.0.1:27017", "redis://127.0.0.1:6379/0"
		}},
		{name: "automanaged port equal to the bind port", mutate: func(c *Config) {
			c.ClusterProvider, c.ClusterBind, c.ClusterSeeds = ClusterAutoManaged, "127.0.0.1:6330", []string{"127.0.0.1:6330"}
			c.ClusterAutoManagedPort = 6330
		}, wantVar: "CLUSTER_AUTOMANAGED_PORT"},
		{name: "provider without bind", mutate: func(c *Config) {
			c.ClusterProvider, c.ClusterEtcdEndpoints = ClusterEtcd, []string{"127.0.0.1:2379"}
		}, wantVar: "CLUSTER_BIND"},
		{name: "bind without a port", mutate: func(c *Config) {
			c.ClusterProvider, c.ClusterBind, c.ClusterEtcdEndpoints = ClusterEtcd, "127.0.0.1", []string{"127.0.0.1:2379"}
		}, wantVar: "CLUSTER_BIND"},
		{name: "bind on every address", mutate: func(c *Config) {
			c.ClusterProvider, c.ClusterBind, c.ClusterEtcdEndpoints = ClusterEtcd, "0.0.0.0:6330", []string{"127.0.0.1:2379"}
		}, wantVar: "CLUSTER_BIND"},
		{name: "attempt timeout too short", mutate: func(c *Config) {
			c.ClusterProvider, c.ClusterBind, c.ClusterEtcdEndpoints = ClusterEtcd, "127.0.0.1:6330", []string{"127.0.0.1:2379"}
			c.ClusterAttemptTimeout = 0
		}, wantVar: "CLUSTER_ATTEMPT_TIMEOUT"},
		{name: "lease ttl too short", mutate: func(c *Config) {
			c.ClusterProvider, c.ClusterBind, c.ClusterEtcdEndpoints = ClusterEtcd, "127.0.0.1:6330", []string{"127.0.0.1:2379"}
			c.ClusterLeaseTTL = 0
		}, wantVar: "CLUSTER_LEASE_TTL"},
		{name: "empty name", mutate: func(c *Config) {
			c.ClusterProvider, c.ClusterBind, c.ClusterEtcdEndpoints = ClusterEtcd, "127.0.0.1:6330", []string{"127.0.0.1:2379"}
			c.ClusterName = ""
		}, wantVar: "CLUSTER_NAME"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			tc.mutate(&c)
			err := c.Validate()
			if tc.wantVar == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.wantVar)
		})
	}
}

func TestClusterAutoManagedListenPort(t *testing.T) {
	c := Defaults()
	c.ClusterBind = "127.0.0.1:6330"
	require.Equal(t, 6331, c.ClusterAutoManagedListenPort(), "bind port plus one by default")
	c.ClusterAutoManagedPort = 7000
	require.Equal(t, 7000, c.ClusterAutoManagedListenPort())
}
