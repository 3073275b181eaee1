package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"

	"github.com/wacc/engine/actors/conversation"
)

// Providers of membership (Config.Provider).
const (
	ProviderEtcd        = "etcd"
	ProviderAutoManaged = "automanaged"
)

// Config is a node's cluster configuration (configs.Config's CLUSTER_*).
type Config struct {
	Provider        string
	EtcdEndpoints   []string
	Seeds           []string
	Bind            string
	AutoManagedPort int
	Name            string
	AttemptTimeout  time.Duration
	LeaseTTL        time.Duration
}

// Local is the node's own conversation host (supervisors.Host).
type Local interface {
	conversation.Directory
	// StopAll stops every conversation actor in memory.
	StopAll(ctx context.Context) (int, error)
}

// Reasons a node downs itself (engine_cluster_downs_total{reason}).
const (
	downFrozen    = "frozen"
	downLeaseLost = "lease_lost"
	downUnlisted  = "not_listed"
	downMinority  = "minority"
)

// Node is this engine's member of the cluster. Each incarnation is a fresh
// actor system with its own member id, remote on Config.Bind and the
// router actor; a node that downs itself stops its conversation actors,
// drops its incarnation and starts a new one (the others blocked the old
// id, as protoactor blocks every member that left).
type Node struct {
	cfg     Config
	local   Local
	log     *zap.Logger
	metrics *metrics
	place   *Placement
	dedupe  *dedupe
	idNonce string
	seq     atomic.Uint64

	mu  sync.Mutex
	inc *incarnation

	suspects sync.Map // address -> time.Time until which it is skipped
	heard    sync.Map // address -> time.Time of its last answer

	// lastCheck is when check last ran (monotonic); checkMu serializes
	// check.
	checkMu   sync.Mutex
	lastCheck time.Time
	// born is the node's monotonic origin; beat is when check last ran
	// (real time since born), read by fresh on every command.
	born     time.Time
	beat     atomic.Int64
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	downs    atomic.Int64
	// sends are the fire-and-forget commands for remote owners.
	sends *sendQueues
}

// incarnation is one membership of the node.
type incarnation struct {
	system   *actor.ActorSystem
	remote   *remote.Remote
	provider membership
	etcd     bool
	self     string
	started  time.Time

	// sendMu orders sends over remote before its shutdown: protoactor's
	// remote.Shutdown races with a concurrent send. closed is set under
	// it once the remote is stopping.
	sendMu sync.RWMutex
	closed bool

	mu            sync.Mutex
	members       []string
	unlistedSince time.Time // zero while the provider lists the node
	minoritySince time.Time // zero while the node sees a quorum of members
}

// NewNode is a node over local; reg may be nil.
func NewNode(cfg Config, local Local, log *zap.Logger, reg prometheus.Registerer) (*Node, error) {
	switch cfg.Provider {
	case ProviderEtcd, ProviderAutoManaged:
	default:
		return nil, fmt.Errorf("cluster provider %q: must be etcd or automanaged", cfg.Provider)
	}
	if _, _, err := splitBind(cfg.Bind); err != nil {
		return nil, err
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = time.Second
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 3 * time.Second
	}
	n := &Node{cfg: cfg, local: local, log: log.With(zap.String("node", cfg.Bind)), metrics: newMetrics(reg),
		place: NewPlacement(), dedupe: newDedupe(), idNonce: strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + cfg.Bind,
		stop: make(chan struct{}), born: time.Now()}
	n.sends = newSendQueues(n)
	return n, nil
}

// Start joins the cluster and returns once this node is listed among its
// members, or ctx ends. It then watches its membership until Stop.
func (n *Node) Start(ctx context.Context) error {
	inc, err := n.join()
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.inc = inc
	n.mu.Unlock()
	for !inc.listed() {
		select {
		case <-ctx.Done():
			n.mu.Lock()
			n.inc = nil
			n.mu.Unlock()
			n.leave(inc, true)
			return fmt.Errorf("join cluster %s at %s: not listed as a member: %w", n.cfg.Name, n.cfg.Bind, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	n.route(inc)
	n.checkMu.Lock()
	n.lastCheck = time.Now()
	n.beat.Store(int64(time.Since(n.born)))
	n.checkMu.Unlock()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.watch()
	}()
	n.log.Info("cluster member joined", zap.String("actor", inc.system.ID), zap.Strings("members", inc.snapshot()))
	return nil
}

// Stop leaves the cluster (the others drop this node at once with etcd),
// after the queued fire-and-forget commands are delivered or ctx ends.
// Safe to call twice.
func (n *Node) Stop(ctx context.Context) {
	n.stopOnce.Do(func() {
		n.sends.drain(ctx)
		close(n.stop)
		n.wg.Wait()
		// Queues still undelivered now give up at once (each logged).
		n.sends.wg.Wait()
		n.mu.Lock()
		inc := n.inc
		n.inc = nil
		n.mu.Unlock()
		if inc != nil {
			n.leave(inc, true)
		}
	})
}

// Members are the cluster's members as this node sees them.
func (n *Node) Members() []string { return n.place.Members() }

// Serving reports whether this node serves conversations now: its
// membership check is fresh and the placement includes it (it is listed,
// with a quorum). A node that downed itself (frozen, lease lost, unlisted,
// in a minority) serves nothing until it has rejoined; the inbox stops
// handing entries over and lets its leases lapse meanwhile.
func (n *Node) Serving() bool {
	return n.fresh() && slices.Contains(n.place.Members(), n.cfg.Bind)
}

// Address is this node's cluster address (Config.Bind).
func (n *Node) Address() string { return n.cfg.Bind }

// Downs is how many times the node downed itself.
func (n *Node) Downs() int64 { return n.downs.Load() }

// MemberID is the current incarnation's member id ("" while rejoining).
func (n *Node) MemberID() string {
	if inc := n.current(); inc != nil {
		return inc.system.ID
	}
	return ""
}

func (n *Node) current() *incarnation {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.inc
}

// join starts a new incarnation.
func (n *Node) join() (*incarnation, error) {
	host, port, _ := splitBind(n.cfg.Bind)
	slogger := slog.New(zapslog.NewHandler(n.log.Core(), zapslog.WithName("protoactor-remote")))
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slogger }))
	inc := &incarnation{system: system, self: n.cfg.Bind, started: time.Now()}
	inc.unlistedSince = inc.started
	switch n.cfg.Provider {
	case ProviderEtcd:
		inc.provider = newEtcdProvider(n.cfg.EtcdEndpoints, n.cfg.Name, n.cfg.LeaseTTL, n.log)
		inc.etcd = true
	case ProviderAutoManaged:
		amPort := n.cfg.AutoManagedPort
		if amPort == 0 {
			amPort = port + 1
		}
		inc.provider = newSeedsProvider(n.cfg.Seeds, amPort, n.cfg.Name, n.cfg.LeaseTTL, n.log)
	}
	// The router exists before remote listens, so no envelope finds it
	// missing.
	_, err := system.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor {
		return &router{local: n.local, dedupe: n.dedupe, log: n.log, send: inc.send, fresh: n.fresh}
	}), routerName)
	if err != nil {
		system.Shutdown()
		return nil, fmt.Errorf("join cluster: spawn router: %w", err)
	}
	system.EventStream.Subscribe(func(evt any) {
		if e, ok := evt.(*remote.EndpointTerminatedEvent); ok {
			n.suspect(e.Address)
		}
	})
	inc.remote = remote.NewRemote(system, remote.Configure(host, port))
	if err := startRemote(inc.remote); err != nil {
		system.Shutdown()
		return nil, fmt.Errorf("join cluster %s at %s: %w", n.cfg.Name, n.cfg.Bind, err)
	}
	self := member{ID: system.ID, Addr: n.cfg.Bind}
	if err := inc.provider.start(self, func(ms []member) { n.topology(inc, ms) }); err != nil {
		inc.remote.Shutdown(false)
		system.Shutdown()
		return nil, fmt.Errorf("join cluster %s at %s with %s: %w", n.cfg.Name, n.cfg.Bind, n.cfg.Provider, err)
	}
	return inc, nil
}

// startRemote starts r, which panics when it cannot listen.
func startRemote(r *remote.Remote) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("start remote: %v", p)
		}
	}()
	r.Start()
	return nil
}

// leave ends an incarnation: its membership (graceful: deregistered at
// once), remote and actor system.
func (n *Node) leave(inc *incarnation, graceful bool) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		inc.provider.shutdown(graceful)
	}()
	select {
	case <-done:
	case <-time.After(n.cfg.LeaseTTL):
		n.log.Warn("cluster membership did not stop in time")
	}
	inc.sendMu.Lock()
	inc.closed = true
	inc.sendMu.Unlock()
	// Not graceful: protoactor's graceful remote shutdown clears its
	// endpoint map while connection events still read it (a race, and a
	// nil map under load); the server stops either way.
	inc.remote.Shutdown(false)
	inc.system.Shutdown()
}

// send sends msg to pid unless the incarnation is leaving.
func (inc *incarnation) send(pid *actor.PID, msg any) {
	inc.sendMu.RLock()
	defer inc.sendMu.RUnlock()
	if !inc.closed {
		inc.system.Root.Send(pid, msg)
	}
}

// request sends msg to pid and returns its future; nil when the
// incarnation is leaving.
func (inc *incarnation) request(pid *actor.PID, msg any, timeout time.Duration) *actor.Future {
	inc.sendMu.RLock()
	defer inc.sendMu.RUnlock()
	if inc.closed {
		return nil
	}
	return inc.system.Root.RequestFuture(pid, msg, timeout)
}

// topology takes a member list from the provider.
func (n *Node) topology(inc *incarnation, ms []member) {
	addrs := make([]string, 0, len(ms))
	listed := false
	for _, m := range ms {
		addrs = append(addrs, m.Addr)
		listed = listed || m.ID == inc.system.ID
	}
	inc.mu.Lock()
	joined := !slices.Equal(sortedCopy(addrs), sortedCopy(inc.members))
	inc.members = addrs
	switch {
	case listed:
		inc.unlistedSince = time.Time{}
	case inc.unlistedSince.IsZero():
		inc.unlistedSince = time.Now()
	}
	inc.mu.Unlock()
	if joined {
		// A member that is listed again is no longer suspected.
		for _, a := range addrs {
			n.suspects.Delete(a)
		}
	}
	if n.current() == inc {
		n.route(inc)
	}
}

// route makes inc's members the placement: none (every request waits in
// backoff, then fails) while inc is not listed or sees fewer members than
// the quorum, so a minority never serves conversations.
func (n *Node) route(inc *incarnation) {
	inc.mu.Lock()
	members := slices.Clone(inc.members)
	ok := inc.unlistedSince.IsZero() && len(members) >= inc.provider.quorum()
	inc.mu.Unlock()
	n.metrics.members.Set(float64(len(members)))
	if !ok {
		members = nil
	}
	n.place.Set(members)
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func (inc *incarnation) listed() bool {
	inc.mu.Lock()
	defer inc.mu.Unlock()
	return inc.unlistedSince.IsZero()
}

func (inc *incarnation) snapshot() []string {
	inc.mu.Lock()
	defer inc.mu.Unlock()
	return append([]string(nil), inc.members...)
}

// suspect skips addr as an owner for a lease TTL: it failed an attempt or
// its connection ended, and membership has not said yet whether it left.
func (n *Node) suspect(addr string) {
	if addr == n.cfg.Bind {
		return
	}
	n.suspects.Store(addr, time.Now().Add(n.cfg.LeaseTTL))
}

func (n *Node) suspected(addr string) bool {
	v, ok := n.suspects.Load(addr)
	if !ok {
		return false
	}
	if time.Now().After(v.(time.Time)) {
		n.suspects.Delete(addr)
		return false
	}
	return true
}

// fresh reports whether the membership check ran within 3/4 of a lease TTL.
// It does not after the process was frozen: until the check downs the node,
// it neither routes nor serves (its router answers "undelivered"), so a
// node that wakes up serves nothing stale.
func (n *Node) fresh() bool {
	return time.Duration(int64(time.Since(n.born))-n.beat.Load()) < n.cfg.LeaseTTL*3/4
}

// owner is the member that owns key now ("" when none is known, or this
// node is not fresh): the placement's owner, skipping suspects.
func (n *Node) owner(key conversation.Key) string {
	if !n.fresh() {
		return ""
	}
	var buf [80]byte
	return n.place.OwnerExcept(string(key.AppendName(buf[:0])), n.suspected)
}

// watch checks the membership every quarter of the lease TTL.
func (n *Node) watch() {
	t := time.NewTicker(n.cfg.LeaseTTL / 4)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
			// The time now, not the tick's: a tick sent before a freeze
			// must not hide it.
			n.check(time.Now())
		}
	}
}

// check downs the node when it was frozen longer than the lease TTL (the
// others may have given its conversations to new owners meanwhile), lost
// its etcd lease, has not been listed among the members for a TTL, or has
// seen fewer than a quorum of the seeds for a TTL (the minority side of a
// partition).
func (n *Node) check(now time.Time) {
	n.checkMu.Lock()
	defer n.checkMu.Unlock()
	gap := now.Sub(n.lastCheck)
	n.lastCheck = now
	// A down takes up to two TTLs (leaving, stopping the actors): the next
	// check measures from its end, not from this one.
	defer func() {
		if end := time.Now(); n.lastCheck.Before(end) {
			n.lastCheck = end
		}
		n.beat.Store(int64(time.Since(n.born)))
	}()
	inc := n.current()
	if inc == nil {
		return
	}
	if gap > n.cfg.LeaseTTL {
		n.down(inc, downFrozen, zap.Duration("duration", gap))
		return
	}
	if inc.provider.stale(now) {
		n.down(inc, downLeaseLost)
		return
	}
	if lost := inc.provider.lostCh(); lost != nil {
		select {
		case <-lost:
			n.down(inc, downLeaseLost)
			return
		default:
		}
	}
	inc.mu.Lock()
	unlisted := !inc.unlistedSince.IsZero() && now.Sub(inc.unlistedSince) > n.cfg.LeaseTTL
	minority := false
	if len(inc.members) < inc.provider.quorum() {
		if inc.minoritySince.IsZero() {
			inc.minoritySince = now
		}
		minority = now.Sub(inc.minoritySince) > n.cfg.LeaseTTL
	} else {
		inc.minoritySince = time.Time{}
	}
	inc.mu.Unlock()
	switch {
	case unlisted:
		n.down(inc, downUnlisted)
	case minority:
		n.down(inc, downMinority)
	}
}

// down stops the conversation actors of this node, drops its incarnation
// and rejoins as a new member.
func (n *Node) down(inc *incarnation, reason string, fields ...zap.Field) {
	n.mu.Lock()
	if n.inc != inc {
		n.mu.Unlock()
		return
	}
	n.inc = nil
	n.mu.Unlock()
	n.downs.Add(1)
	n.metrics.downs.WithLabelValues(reason).Inc()
	n.log.Warn("cluster node down: stopping its conversations and rejoining as a new member",
		append(fields, zap.String("reason", reason), zap.String("actor", inc.system.ID))...)
	// Route nothing until rejoined: requests wait in backoff.
	n.place.Set(nil)
	// Graceful for the membership: an etcd lease still alive is revoked,
	// so the others re-route at once.
	n.leave(inc, true)
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.LeaseTTL)
	stopped, err := n.local.StopAll(ctx)
	cancel()
	if err != nil {
		n.log.Error("conversation actors did not all stop after a down", zap.Int("stopped", stopped), zap.Error(err))
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.rejoin()
	}()
}

// rejoin starts incarnations, with backoff, until one joins or the node
// stops.
func (n *Node) rejoin() {
	for attempt := 1; ; attempt++ {
		inc, err := n.join()
		if err == nil {
			n.mu.Lock()
			select {
			case <-n.stop:
				n.mu.Unlock()
				n.leave(inc, true)
				return
			default:
			}
			n.inc = inc
			n.mu.Unlock()
			n.route(inc)
			n.log.Info("cluster member rejoined", zap.String("actor", inc.system.ID), zap.Int("attempt", attempt))
			return
		}
		n.log.Warn("cluster rejoin failed", zap.Int("attempt", attempt), zap.Error(err))
		select {
		case <-n.stop:
			return
		case <-time.After(backoff(attempt)):
		}
	}
}

// nextID is a message id unique to this node's life.
func (n *Node) nextID() string {
	return n.idNonce + "-" + strconv.FormatUint(n.seq.Add(1), 36)
}

func splitBind(bind string) (string, int, error) {
	host, p, err := net.SplitHostPort(bind)
	if err != nil {
		return "", 0, fmt.Errorf("cluster bind %q: %w", bind, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("cluster bind %q: port must be 1-65535", bind)
	}
	if host == "" {
		return "", 0, errors.New("cluster bind: host must name an address the other nodes reach")
	}
	return host, port, nil
}
