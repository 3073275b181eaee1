package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/wacc/engine/actors/conversation"
	"github.com/wacc/engine/bench/density"
	"github.com/wacc/engine/cluster"
	"github.com/wacc/engine/supervisors"
)

// Names of the cluster scenario's runs (its test finds them by name).
const (
	clusterRunLocal  = "3 nodes, from A: local (A owns the key)"
	clusterRunRouted = "3 nodes, from A: routed (B or C owns it)"
	// The same, one message at a time: the hop's own latency, no queue.
	clusterRunLocalAlone  = "3 nodes, from A: local, 1 in flight"
	clusterRunRoutedAlone = "3 nodes, from A: routed, 1 in flight"
	clusterRunOne         = "1 node: every key (all local)"
	clusterRunThree       = "3 nodes on one machine: spread over A, B, C"
)

// Cluster timings of the scenario's nodes: the engine's defaults.
const (
	clusterLeaseTTL       = 3 * time.Second
	clusterAttemptTimeout = time.Second
	// clusterAskTimeout bounds one message, as the webhook's caller would.
	clusterAskTimeout = 10 * time.Second
)

// runCluster measures, in this process, inbound messages delivered through
// the cluster's Directory (cluster.Node, automanaged seeds on loopback;
// each node's conversation host over an in-memory store): on 3 nodes, from
// node A to conversations A owns (local: no serialization) and to ones B
// or C owns (routed: protoactor remote over loopback gRPC, both ways),
// with --conns in flight and one at a time; then the throughput of 1 node against 3 nodes, each message entering at
// every node in turn, for the same conversations. All nodes share this
// one machine and process, with the load generator.
func runCluster(ctx context.Context, env *Env, res *Result) error {
	perSet := 1000
	if env.Opts.Quick {
		perSet = 500
	}
	measure := env.Opts.Duration
	if env.Opts.Quick {
		// Six runs and two clusters' start and stop within ~30 s.
		measure = min(measure, 2*time.Second)
	}

	fmt.Fprintf(env.Progress, "   starting 3 nodes on loopback\n")
	three, err := startBenchCluster(ctx, 3)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	defer three.stop()
	a := three.nodes[0]
	local, routed := splitKeys(a.node.Members(), a.node.Address(), perSet)
	all := append(append([]conversation.Key(nil), local...), routed...)
	if err := three.open(ctx, all); err != nil {
		return fmt.Errorf("cluster: 3 nodes: %w", err)
	}
	var round int
	next := func() int { round++; return round * 1_000_000 }
	conns := env.Opts.Conns
	runLocal := three.measure(ctx, env, clusterRunLocal, measure, conns, []*benchNode{a}, local, next())
	runRouted := three.measure(ctx, env, clusterRunRouted, measure, conns, []*benchNode{a}, routed, next())
	localAlone := three.measure(ctx, env, clusterRunLocalAlone, measure, 1, []*benchNode{a}, local, next())
	routedAlone := three.measure(ctx, env, clusterRunRoutedAlone, measure, 1, []*benchNode{a}, routed, next())
	runThree := three.measure(ctx, env, clusterRunThree, measure, conns, three.nodes, all, next())
	three.stop()

	fmt.Fprintf(env.Progress, "   starting 1 node on loopback\n")
	one, err := startBenchCluster(ctx, 1)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	defer one.stop()
	if err := one.open(ctx, all); err != nil {
		return fmt.Errorf("cluster: 1 node: %w", err)
	}
	runOne := one.measure(ctx, env, clusterRunOne, measure, conns, one.nodes, all, next())
	one.stop()

	res.Runs = append(res.Runs, runLocal, runRouted, localAlone, routedAlone, runOne, runThree)
	res.CPU = &CPULine{Op: "message (the whole bench process: every node, both ends of each hop, and the load generator)",
		Figures: []CPUFigure{cpuFigure("local", runLocal), cpuFigure("routed", runRouted),
			cpuFigure("local, 1 in flight", localAlone), cpuFigure("routed, 1 in flight", routedAlone), cpuFigure("1 node", runOne), cpuFigure("3 nodes", runThree)},
		Note: "no target in the issue: the scenario shows what a routed message costs against a local one, on one machine"}
	lc, rc := runLocal.Extra["cpuUsPerOp"], runRouted.Extra["cpuUsPerOp"]
	res.Notes = append(res.Notes,
		fmt.Sprintf("ONE MACHINE: every node runs in this one process on this machine's %d CPUs (GOMAXPROCS %d), beside the load generator; the 3 nodes share the cores the 1 node had, so 3 nodes is not expected to be faster here, and a routed message crosses loopback gRPC, not a network: the figures are the hop's CPU and codec, not a network's latency",
			runtime.NumCPU(), runtime.GOMAXPROCS(0)),
		fmt.Sprintf("routed vs local, from node A: %s vs %s µs of CPU per message (+%s µs, %s×), p50 %s vs %s ms, p99 %s vs %s ms, %s/s vs %s/s",
			num(rc), num(lc), num(rc-lc), num(rc/max(lc, 1e-9)), num(runRouted.Latency.P50), num(runLocal.Latency.P50),
			num(runRouted.Latency.P99), num(runLocal.Latency.P99), num(runRouted.Rate), num(runLocal.Rate)),
		fmt.Sprintf("routed vs local, one message at a time (the hop without a queue): p50 %s vs %s ms, p99 %s vs %s ms, %s vs %s µs of CPU per message",
			num(routedAlone.Latency.P50), num(localAlone.Latency.P50), num(routedAlone.Latency.P99), num(localAlone.Latency.P99),
			num(routedAlone.Extra["cpuUsPerOp"]), num(localAlone.Extra["cpuUsPerOp"])),
		fmt.Sprintf("3 nodes vs 1 node, messages entering at every node in turn: %s/s vs %s/s (%s×), p99 %s vs %s ms, %s vs %s µs of CPU per message; on 3 nodes about 2/3 of them are routed",
			num(runThree.Rate), num(runOne.Rate), num(runThree.Rate/max(runOne.Rate, 1e-9)), num(runThree.Latency.P99), num(runOne.Latency.P99),
			num(runThree.Extra["cpuUsPerOp"]), num(runOne.Extra["cpuUsPerOp"])),
		fmt.Sprintf("each message is an inbound text (the webhook's, with its raw JSON) applied by its conversation actor over an in-memory store (no I/O: bench/density memstore.go) and answered; %d conversations owned by A and %d by B or C, opened before the runs, %d messages in flight (1 in the \"1 in flight\" runs); membership automanaged (CLUSTER_SEEDS on loopback), lease TTL %s, attempt timeout %s",
			perSet, perSet, env.Opts.Conns, clusterLeaseTTL, clusterAttemptTimeout),
		"servedByEntryNode and servedByOtherNodes (extra): messages each side's conversation host answered during the run, warm-up included: a local run has none served elsewhere, a routed run none at A")
	return nil
}

// countingHost is a node's conversation host, counting the commands it is
// given.
type countingHost struct {
	*supervisors.Host
	served atomic.Int64
}

var _ cluster.Local = (*countingHost)(nil)

func (h *countingHost) Request(key conversation.Key, cmd conversation.Command, timeout time.Duration) conversation.Reply {
	h.served.Add(1)
	return h.Host.Request(key, cmd, timeout)
}

func (h *countingHost) Send(key conversation.Key, cmd conversation.Command) {
	h.served.Add(1)
	h.Host.Send(key, cmd)
}

// benchNode is a cluster node over a conversation host of its own.
type benchNode struct {
	node  *cluster.Node
	host  *countingHost
	fleet *density.Fleet
	dir   *cluster.Directory
}

// benchCluster is a cluster of nodes in this process.
type benchCluster struct {
	nodes   []*benchNode
	stopped bool
}

// startBenchCluster starts size nodes that list each other by automanaged
// seeds on free loopback ports, and waits until every one sees all.
func startBenchCluster(ctx context.Context, size int) (*benchCluster, error) {
	binds, seeds := make([]int, size), make([]string, size)
	ams := make([]int, size)
	for i := range size {
		var err error
		if binds[i], err = freePort(); err != nil {
			return nil, err
		}
		if ams[i], err = freePort(); err != nil {
			return nil, err
		}
		seeds[i] = fmt.Sprintf("127.0.0.1:%d", ams[i])
	}
	c := &benchCluster{nodes: make([]*benchNode, size)}
	for i := range size {
		fleet := density.OpenMemoryFleet(zap.NewNop())
		host := &countingHost{Host: fleet.Host()}
		n, err := cluster.NewNode(cluster.Config{Provider: cluster.ProviderAutoManaged, Seeds: seeds, Bind: fmt.Sprintf("127.0.0.1:%d", binds[i]),
			AutoManagedPort: ams[i], Name: "bench-cluster", AttemptTimeout: clusterAttemptTimeout, LeaseTTL: clusterLeaseTTL}, host, zap.NewNop(), nil)
		if err != nil {
			_ = fleet.Close()
			c.stop()
			return nil, err
		}
		c.nodes[i] = &benchNode{node: n, host: host, fleet: fleet, dir: n.Directory()}
	}
	started := make([]bool, size)
	g, gctx := errgroup.WithContext(ctx)
	for i, bn := range c.nodes {
		g.Go(func() error {
			sctx, cancel := context.WithTimeout(gctx, 20*time.Second)
			defer cancel()
			if err := bn.node.Start(sctx); err != nil {
				return err
			}
			started[i] = true
			return nil
		})
	}
	err := g.Wait()
	if err == nil {
		err = c.waitMembers(ctx, size)
	}
	if err != nil {
		// A node that did not start holds no membership: only its host.
		for i, bn := range c.nodes {
			if !started[i] {
				_ = bn.fleet.Close()
				c.nodes[i] = nil
			}
		}
		c.stop()
		return nil, fmt.Errorf("start %d nodes: %w", size, err)
	}
	return c, nil
}

// waitMembers waits until every node sees want members.
func (c *benchCluster) waitMembers(ctx context.Context, want int) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok := true
		for _, bn := range c.nodes {
			ok = ok && len(bn.node.Members()) == want
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("every node sees %d members: not within 20 s", want)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop stops every node, then its conversation host; safe to call twice.
func (c *benchCluster) stop() {
	if c.stopped {
		return
	}
	c.stopped = true
	for _, bn := range c.nodes {
		if bn == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		bn.node.Stop(ctx)
		cancel()
		_ = bn.fleet.Close()
	}
}

// splitKeys is n customers' conversation keys that self owns among members
// (local) and n that another member owns (routed).
func splitKeys(members []string, self string, n int) (local, routed []conversation.Key) {
	p := cluster.NewPlacement(members...)
	for i := 0; len(local) < n || len(routed) < n; i++ {
		key := density.CustomerKey(i)
		switch owner := p.Owner(key.Name()); {
		case owner == self && len(local) < n:
			local = append(local, key)
		case owner != self && len(routed) < n:
			routed = append(routed, key)
		}
	}
	return local, routed
}

// open sends each key's first message (round 0) through the nodes'
// directories in turn, 64 at a time, so the runs find the conversations
// open and their actors in memory on their owners.
func (c *benchCluster) open(ctx context.Context, keys []conversation.Key) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(64)
	for i, key := range keys {
		if gctx.Err() != nil {
			break
		}
		dir := c.nodes[i%len(c.nodes)].dir
		g.Go(func() error { return deliverInbound(dir, key, 0) })
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("open %d conversations: %w", len(keys), err)
	}
	return ctx.Err()
}

// deliverInbound delivers key's round-th inbound message through dir and
// waits for its answer; a duplicate is an error (each round is sent once).
func deliverInbound(dir conversation.Directory, key conversation.Key, round int) error {
	msg := density.Inbound(key, round)
	res, err := conversation.Ask(dir, key, msg, clusterAskTimeout)
	if err != nil {
		return fmt.Errorf("deliver %s: %w", msg.Msg.WaMessageID, err)
	}
	if res.Duplicate {
		return fmt.Errorf("deliver %s to %s: %w", msg.Msg.WaMessageID, key.Name(), errFreshDuplicate)
	}
	return nil
}

// errFreshDuplicate: a conversation took a fresh wamid for one applied.
var errFreshDuplicate = errors.New("fresh message applied as a duplicate")

// measure runs one load of inbound messages to keys round-robin, workers
// at a time, entering at the entry nodes in turn, with rounds from base+1
// (unique per run), and adds the messages each side's hosts served to its
// extra figures.
func (c *benchCluster) measure(ctx context.Context, env *Env, name string, d time.Duration, workers int, entry []*benchNode, keys []conversation.Key, base int) Run {
	servedBefore := c.served()
	n := int64(len(keys))
	run := loadInProcess(ctx, env, loadSpec{Name: name, Measure: d, Workers: workers, Op: func(_ context.Context, i int64) error {
		return deliverInbound(entry[i%int64(len(entry))].dir, keys[i%n], base+1+int(i/n))
	}})
	after := c.served()
	if run.Extra == nil {
		run.Extra = map[string]float64{}
	}
	entrySet := map[*benchNode]bool{}
	for _, bn := range entry {
		entrySet[bn] = true
	}
	for i, bn := range c.nodes {
		k := "servedByOtherNodes"
		if entrySet[bn] {
			k = "servedByEntryNode"
		}
		run.Extra[k] += float64(after[i] - servedBefore[i])
	}
	run.Extra["nodes"] = float64(len(c.nodes))
	run.Extra["conversations"] = float64(n)
	return run
}

// served is how many commands each node's host was given so far.
func (c *benchCluster) served() []int64 {
	out := make([]int64, len(c.nodes))
	for i, bn := range c.nodes {
		out[i] = bn.host.served.Load()
	}
	return out
}
