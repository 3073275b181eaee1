package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
)

// member is one incarnation of a node: its member id (fresh per
// incarnation) and its cluster address.
type member struct {
	ID      string `json:"id"`
	Addr    string `json:"address"`
	Cluster string `json:"cluster,omitempty"`
}

// membership is how a node learns the members: etcd (etcdProvider) or a
// fixed list of seeds polled over HTTP (seedsProvider).
type membership interface {
	// start lists self and calls publish with every new member list (self
	// included once listed).
	start(self member, publish func([]member)) error
	// lostCh is closed when the provider knows this incarnation is no
	// longer a member (nil: it never knows).
	lostCh() <-chan struct{}
	// stale reports whether the node can no longer be sure it is a member
	// at now (its lease could not be renewed lately).
	stale(now time.Time) bool
	// quorum is how many members a node must see to serve: a majority of
	// the seeds, so the minority side of a partition stops; 0 with etcd,
	// whose own quorum decides (a node cut off from it loses its lease).
	quorum() int
	shutdown(graceful bool)
}

// seedsProvider is the automanaged membership, as protoactor's automanaged
// provider does it: every node serves its member at GET /_health on its
// automanaged port, and polls every seed's (CLUSTER_SEEDS, itself
// included) each third of the lease TTL; the members are the seeds that
// answer for this cluster. A node is listed while its own endpoint answers
// with its own incarnation.
type seedsProvider struct {
	seeds  []string
	port   int
	name   string
	every  time.Duration
	log    *zap.Logger
	client *http.Client

	srv    *http.Server
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	self member
}

var _ membership = (*seedsProvider)(nil)

func newSeedsProvider(seeds []string, port int, name string, ttl time.Duration, log *zap.Logger) *seedsProvider {
	every := max(ttl/3, 50*time.Millisecond)
	return &seedsProvider{seeds: seeds, port: port, name: name, every: every, log: log,
		client: &http.Client{Timeout: every}}
}

func (p *seedsProvider) start(self member, publish func([]member)) error {
	self.Cluster = p.name
	p.self = self
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(self)
	})
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(p.port)))
	if err != nil {
		return fmt.Errorf("automanaged membership: listen on port %d: %w", p.port, err)
	}
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: p.every}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		if err := p.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.log.Warn("automanaged membership endpoint stopped", zap.Error(err))
		}
	}()
	go func() {
		defer p.wg.Done()
		for {
			publish(p.poll(ctx))
			select {
			case <-ctx.Done():
				return
			case <-time.After(p.every):
			}
		}
	}()
	return nil
}

// poll asks every seed for its member.
func (p *seedsProvider) poll(ctx context.Context) []member {
	found := make([]member, len(p.seeds))
	var wg sync.WaitGroup
	for i, seed := range p.seeds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+seed+"/_health", nil)
			if err != nil {
				return
			}
			resp, err := p.client.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			var m member
			if resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&m) == nil && m.Cluster == p.name && m.ID != "" {
				found[i] = m
			}
		}()
	}
	wg.Wait()
	out := found[:0]
	for _, m := range found {
		if m.ID != "" {
			out = append(out, m)
		}
	}
	return out
}

func (p *seedsProvider) lostCh() <-chan struct{} { return nil }

// stale is false: the seeds hold no lease; quorum decides.
func (p *seedsProvider) stale(time.Time) bool { return false }

func (p *seedsProvider) quorum() int { return len(p.seeds)/2 + 1 }

func (p *seedsProvider) shutdown(bool) {
	p.once.Do(func() {
		if p.cancel == nil {
			return
		}
		p.cancel()
		_ = p.srv.Close()
		p.wg.Wait()
	})
}
