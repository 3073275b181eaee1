package redisbus

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Defaults of PresenceOptions.
const (
	DefaultPresenceTTL       = 15 * time.Second
	DefaultPresenceHeartbeat = 5 * time.Second
)

// Listener is told who came online and who went offline cluster-wide (the
// assigner). Calls are serialised.
type Listener interface {
	AgentOnline(userID string)
	AgentOffline(userID string)
}

// Sockets reports this node's active sockets per user (the agent-session
// hub).
type Sockets interface {
	ActiveSessions() map[string]int
}

// PresenceOptions configure a Presence.
type PresenceOptions struct {
	// Node and Prefix as in Options.
	Node   string
	Prefix string
	// TTL is how long a node's entry lives without a heartbeat; Heartbeat
	// how often it is rewritten (and the other nodes' read).
	TTL       time.Duration
	Heartbeat time.Duration
	Log       *zap.Logger
}

// Presence is cluster-wide presence: the hub's Presence on this node, the
// assigner's source of who is online on any node. See the package doc.
type Presence struct {
	rdb      redis.UniversalClient
	opts     PresenceOptions
	log      *zap.Logger
	listener Listener
	nodes    string
	channel  string

	// changed wakes Run: a local user came online or went offline.
	changed chan struct{}

	mu sync.Mutex
	// remote is the last read users of the other live nodes, with their
	// socket counts summed.
	remote map[string]int
	// told is who the listener was last told is online.
	told map[string]bool
	// sockets is set by Run.
	sockets Sockets
}

// NewPresence returns the presence of this node, telling listener.
func NewPresence(rdb redis.UniversalClient, listener Listener, opts PresenceOptions) *Presence {
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultPresenceTTL
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultPresenceHeartbeat
	}
	if opts.Node == "" {
		opts.Node = NewNodeID()
	}
	return &Presence{rdb: rdb, opts: opts, log: opts.Log.With(zap.String("node", opts.Node)), listener: listener,
		nodes: opts.Prefix + "presence:nodes", channel: opts.Prefix + "presence:changed",
		changed: make(chan struct{}, 1), remote: map[string]int{}, told: map[string]bool{}}
}

func (p *Presence) nodeKey(node string) string { return p.opts.Prefix + "presence:node:" + node }

// AgentOnline is told by the hub when a user's first socket here becomes
// active; the listener hears of it at once (unless the user was already
// online elsewhere) and the other nodes soon after.
func (p *Presence) AgentOnline(string) { p.poke() }

// AgentOffline is told by the hub when a user's last socket here stops
// being active.
func (p *Presence) AgentOffline(string) { p.poke() }

func (p *Presence) poke() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// Online reports whether userID has an active socket on any live node, as
// last computed.
func (p *Presence) Online(userID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.told[userID]
}

// Run keeps this node's entry and the cluster-wide view until ctx ends,
// then removes the entry (its users go offline on the other nodes at
// once).
func (p *Presence) Run(ctx context.Context, sockets Sockets) error {
	p.mu.Lock()
	p.sockets = sockets
	p.mu.Unlock()
	sub := p.rdb.Subscribe(ctx, p.channel)
	defer func() { _ = sub.Close() }()
	remoteChanged := sub.Channel()
	tick := time.NewTicker(p.opts.Heartbeat)
	defer tick.Stop()
	p.sync(ctx, true)
	for {
		select {
		case <-ctx.Done():
			p.leave()
			return nil
		case <-p.changed:
			p.sync(ctx, true)
		case msg := <-remoteChanged:
			if msg != nil && msg.Payload != p.opts.Node {
				p.sync(ctx, false)
			}
		case <-tick.C:
			p.sync(ctx, true)
		}
	}
}

// sync writes this node's entry (when write), reads the others' and tells
// the listener what changed. Redis errors keep the last view of the
// others; local changes apply regardless.
func (p *Presence) sync(ctx context.Context, write bool) {
	local := p.local()
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if write {
		if err := p.write(c, local); err != nil {
			p.log.Warn("write presence to Redis", zap.Error(err))
		}
	}
	if remote, err := p.read(c); err != nil {
		p.log.Warn("read presence from Redis; keeping the last view", zap.Error(err))
	} else {
		p.mu.Lock()
		p.remote = remote
		p.mu.Unlock()
	}
	p.tell(local)
}

func (p *Presence) local() map[string]int {
	p.mu.Lock()
	s := p.sockets
	p.mu.Unlock()
	if s == nil {
		return map[string]int{}
	}
	return s.ActiveSessions()
}

// write replaces this node's hash with local, with the TTL, lists the node
// as alive now and announces the change.
func (p *Presence) write(ctx context.Context, local map[string]int) error {
	key := p.nodeKey(p.opts.Node)
	_, err := p.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.Del(ctx, key)
		if len(local) > 0 {
			fields := make([]any, 0, 2*len(local))
			for u, n := range local {
				fields = append(fields, u, n)
			}
			pipe.HSet(ctx, key, fields...)
			pipe.PExpire(ctx, key, p.opts.TTL)
		}
		pipe.ZAdd(ctx, p.nodes, redis.Z{Score: float64(time.Now().UnixMilli()), Member: p.opts.Node})
		pipe.Publish(ctx, p.channel, p.opts.Node)
		return nil
	})
	if err != nil {
		return fmt.Errorf("write presence of node %s: %w", p.opts.Node, err)
	}
	return nil
}

// read returns the users of the other nodes that heartbeated within the
// TTL, and forgets the nodes that did not.
func (p *Presence) read(ctx context.Context) (map[string]int, error) {
	cutoff := time.Now().Add(-p.opts.TTL).UnixMilli()
	if err := p.rdb.ZRemRangeByScore(ctx, p.nodes, "-inf", "("+strconv.FormatInt(cutoff, 10)).Err(); err != nil {
		return nil, fmt.Errorf("forget dead nodes: %w", err)
	}
	nodes, err := p.rdb.ZRangeByScore(ctx, p.nodes, &redis.ZRangeBy{Min: strconv.FormatInt(cutoff, 10), Max: "+inf"}).Result()
	if err != nil {
		return nil, fmt.Errorf("list live nodes: %w", err)
	}
	pipe := p.rdb.Pipeline()
	var cmds []*redis.MapStringStringCmd
	for _, n := range nodes {
		if n != p.opts.Node {
			cmds = append(cmds, pipe.HGetAll(ctx, p.nodeKey(n)))
		}
	}
	if len(cmds) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("read presence of %d nodes: %w", len(cmds), err)
		}
	}
	out := map[string]int{}
	for _, c := range cmds {
		for u, v := range c.Val() {
			n, err := strconv.Atoi(v)
			if err == nil && n > 0 {
				out[u] += n
			}
		}
	}
	return out, nil
}

// tell tells the listener who came online and went offline since last.
func (p *Presence) tell(local map[string]int) {
	p.mu.Lock()
	now := maps.Clone(p.remote)
	for u, n := range local {
		if n > 0 {
			now[u] += n
		}
	}
	var on, off []string
	for u := range now {
		if !p.told[u] {
			p.told[u] = true
			on = append(on, u)
		}
	}
	for u := range p.told {
		if _, ok := now[u]; !ok {
			delete(p.told, u)
			off = append(off, u)
		}
	}
	p.mu.Unlock()
	if p.listener == nil {
		return
	}
	for _, u := range on {
		p.listener.AgentOnline(u)
	}
	for _, u := range off {
		p.listener.AgentOffline(u)
	}
}

// leave removes this node's entry at shutdown.
func (p *Presence) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := p.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.Del(ctx, p.nodeKey(p.opts.Node))
		pipe.ZRem(ctx, p.nodes, p.opts.Node)
		pipe.Publish(ctx, p.channel, p.opts.Node)
		return nil
	})
	if err != nil {
		p.log.Warn("remove presence at shutdown; it expires on its own", zap.Error(err))
	}
}

// Counts returns each online user's active sockets across the live nodes,
// as last computed (for operators and tests).
func (p *Presence) Counts() map[string]int {
	local := p.local()
	p.mu.Lock()
	defer p.mu.Unlock()
	out := maps.Clone(p.remote)
	for u, n := range local {
		out[u] += n
	}
	return out
}
