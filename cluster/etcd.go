package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// etcdProvider is the membership of a node on etcd: a key under
// /wacc/<cluster name>/ holding the member, under a lease of the node's
// lease TTL kept alive while the node runs, and a watch of the prefix that
// publishes every change. Unlike protoactor's etcd provider (a fixed 3 s
// lease, no word when it is lost) it closes lost when the keep-alive ends,
// the node's own key is deleted, or the watch fails, and the node downs
// itself.
type etcdProvider struct {
	endpoints []string
	ttl       time.Duration
	prefix    string
	log       *zap.Logger

	client *clientv3.Client
	cancel context.CancelFunc
	wg     sync.WaitGroup
	lease  clientv3.LeaseID
	self   member
	key    string

	lost     chan struct{}
	lostOnce sync.Once
	// renewed is when the lease was last renewed (set at grant).
	renewed atomic.Pointer[time.Time]

	mu      sync.Mutex
	members map[string]member
	publish func([]member)
	stopped sync.Once
}

var _ membership = (*etcdProvider)(nil)

func newEtcdProvider(endpoints []string, name string, ttl time.Duration, log *zap.Logger) *etcdProvider {
	return &etcdProvider{endpoints: endpoints, ttl: ttl, prefix: "/wacc/" + name + "/", log: log,
		lost: make(chan struct{}), members: map[string]member{}}
}

// start registers the node and starts watching the members.
func (p *etcdProvider) start(self member, publish func([]member)) error {
	p.self, p.publish = self, publish
	p.key = p.prefix + self.ID
	var err error
	p.client, err = clientv3.New(clientv3.Config{Endpoints: p.endpoints, DialTimeout: p.ttl, Logger: p.log.Named("etcd")})
	if err != nil {
		return fmt.Errorf("etcd membership: connect %v: %w", p.endpoints, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	if err := p.register(ctx); err != nil {
		cancel()
		_ = p.client.Close()
		return err
	}
	rev, err := p.load(ctx)
	if err != nil {
		cancel()
		_ = p.client.Close()
		return err
	}
	p.publishMembers()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.watch(ctx, rev)
	}()
	return nil
}

func (p *etcdProvider) lostCh() <-chan struct{} { return p.lost }

func (p *etcdProvider) register(ctx context.Context) error {
	opCtx, cancel := context.WithTimeout(ctx, p.ttl)
	defer cancel()
	lease, err := p.client.Grant(opCtx, int64(math.Ceil(p.ttl.Seconds())))
	if err != nil {
		return fmt.Errorf("etcd membership: grant lease: %w", err)
	}
	p.lease = lease.ID
	granted := time.Now()
	p.renewed.Store(&granted)
	v, _ := json.Marshal(p.self)
	if _, err := p.client.Put(opCtx, p.key, string(v), clientv3.WithLease(lease.ID)); err != nil {
		return fmt.Errorf("etcd membership: register %s: %w", p.key, err)
	}
	alive, err := p.client.KeepAlive(ctx, lease.ID)
	if err != nil {
		return fmt.Errorf("etcd membership: keep lease alive: %w", err)
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for range alive {
			at := time.Now()
			p.renewed.Store(&at)
		}
		// The channel closes when ctx ends (shutdown) or the lease could
		// not be renewed within its TTL (expired, revoked, etcd away).
		if ctx.Err() == nil {
			p.markLost("lease keep-alive ended")
		}
	}()
	return nil
}

// load reads every member and returns the revision to watch from.
func (p *etcdProvider) load(ctx context.Context) (int64, error) {
	opCtx, cancel := context.WithTimeout(ctx, p.ttl)
	defer cancel()
	resp, err := p.client.Get(opCtx, p.prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("etcd membership: list members: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, kv := range resp.Kvs {
		if m, ok := decodeMember(kv.Value); ok {
			p.members[string(kv.Key)] = m
		}
	}
	return resp.Header.Revision, nil
}

func (p *etcdProvider) watch(ctx context.Context, rev int64) {
	for resp := range p.client.Watch(ctx, p.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
		if err := resp.Err(); err != nil {
			p.markLost("member watch failed: " + err.Error())
			return
		}
		selfGone := false
		p.mu.Lock()
		for _, ev := range resp.Events {
			key := string(ev.Kv.Key)
			switch ev.Type {
			case clientv3.EventTypeDelete:
				delete(p.members, key)
				selfGone = selfGone || key == p.key
			case clientv3.EventTypePut:
				if m, ok := decodeMember(ev.Kv.Value); ok {
					p.members[key] = m
				}
			}
		}
		p.mu.Unlock()
		p.publishMembers()
		if selfGone {
			p.markLost("own member key deleted")
			return
		}
	}
	if ctx.Err() == nil {
		p.markLost("member watch closed")
	}
}

func (p *etcdProvider) publishMembers() {
	p.mu.Lock()
	list := make([]member, 0, len(p.members))
	for _, m := range p.members {
		list = append(list, m)
	}
	p.mu.Unlock()
	p.publish(list)
}

func (p *etcdProvider) markLost(why string) {
	p.lostOnce.Do(func() {
		p.log.Warn("cluster membership lost", zap.String("reason", why))
		close(p.lost)
	})
}

// shutdown stops the keep-alive and the watch; graceful also revokes the
// lease, so the others drop the node at once instead of after the TTL.
// Safe to call twice.
func (p *etcdProvider) shutdown(graceful bool) {
	p.stopped.Do(func() {
		if p.cancel == nil {
			return
		}
		p.cancel()
		if graceful {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, _ = p.client.Revoke(ctx, p.lease)
			cancel()
		}
		_ = p.client.Close()
		p.wg.Wait()
	})
}

func decodeMember(v []byte) (member, bool) {
	var m member
	if err := json.Unmarshal(v, &m); err != nil || m.ID == "" || m.Addr == "" {
		return member{}, false
	}
	return m, true
}

// stale reports whether the lease went unrenewed for three quarters of its TTL
// (clientv3 renews every third): the node stops before etcd expires it.
func (p *etcdProvider) stale(now time.Time) bool {
	r := p.renewed.Load()
	return r != nil && now.Sub(*r) > p.ttl*3/4
}

// quorum is 0: etcd's own quorum decides membership.
func (p *etcdProvider) quorum() int { return 0 }
