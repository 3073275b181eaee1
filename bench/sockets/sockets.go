package sockets

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"
)

// SocketsOptions shape the sockets scenario and its echo peer. Zero values
// take the defaults of DefaultSocketsOptions(false).
type SocketsOptions struct {
	// Sockets is how many idle sockets are opened.
	Sockets int
	// Users is how many agent accounts the sockets log in as (socket i as
	// user i%Users); zero means min(Sockets, 1000). Ignored by EchoPeer.
	Users int
	// ConnectConcurrency is how many dials are in flight at once.
	ConnectConcurrency int
	// Hold is how long the sockets stay idle before memory is read.
	Hold time.Duration
	// SourceAddrs is how many 127.0.0.x source addresses (from 127.0.0.2)
	// the dials cycle through; zero picks one per 20,000 sockets when the
	// target is a loopback address, and none otherwise.
	SourceAddrs int
	// EngineGCURL, when set, is fetched (GET) to make the engine collect
	// its garbage before each RSS reading: its pprof heap profile with
	// gc=1 (PPROF_ADDR). Without it, the garbage of the registrations'
	// argon2id hashes (19 MiB each) is collected, and its pages returned,
	// only when the sockets' allocations trigger a GC, which can make the
	// RSS fall while sockets are added.
	EngineGCURL string
	// EnginePID is the engine's process id, for its RSS and CPU time; 0
	// when unknown (memory per socket is then not measured).
	EnginePID int
}

// DefaultSocketsOptions are the figures, or the quick run's.
func DefaultSocketsOptions(quick bool) SocketsOptions {
	if quick {
		return SocketsOptions{Sockets: 2000, Users: 100, ConnectConcurrency: 64, Hold: 3 * time.Second}
	}
	return SocketsOptions{Sockets: 100000, Users: 1000, ConnectConcurrency: 256, Hold: 10 * time.Second}
}

func (o SocketsOptions) withDefaults() SocketsOptions {
	d := DefaultSocketsOptions(false)
	if o.Sockets <= 0 {
		o.Sockets = d.Sockets
	}
	if o.Users <= 0 {
		o.Users = min(o.Sockets, d.Users)
	}
	o.Users = min(o.Users, o.Sockets)
	if o.ConnectConcurrency <= 0 {
		o.ConnectConcurrency = d.ConnectConcurrency
	}
	if o.Hold <= 0 {
		o.Hold = d.Hold
	}
	return o
}

// dialerFor returns the dialer of n sockets to host and how many source
// addresses it cycles.
func (o SocketsOptions) dialerFor(host string, n int) (*cyclingDialer, int, error) {
	k := o.SourceAddrs
	if k == 0 {
		k = sourceAddrsFor(host, n)
	}
	if k == 0 {
		return newCyclingDialer(nil, helloTimeout), 0, nil
	}
	addrs, err := sourceAddrs(k)
	if err != nil {
		return nil, 0, err
	}
	return newCyclingDialer(addrs, helloTimeout), k, nil
}

// ErrNoFiles is returned when the open files limit leaves room for no
// socket at all.
var ErrNoFiles = errors.New("open files limit leaves no room for sockets")

// Sockets measures how many authenticated idle agent sockets the engine
// holds: it registers Users agents, opens Sockets sockets with their tokens
// as fast as ConnectConcurrency allows (each counted once its hello frame
// arrives), keeps them idle for Hold, then reads the engine's RSS.
//
// Result: Ops sockets opened, Duration the time to open them all,
// Throughput sockets/s, percentiles of one socket's dial-to-hello time,
// Errors failed dials + sockets closed by the engine while idle. When
// EnginePID is known, Extra has rss_bytes_per_socket (the engine's RSS
// growth per socket between half and all of the sockets open, see hold),
// server_rss_bytes (its RSS with all open) and
// server_rss_bytes_over_sockets (that RSS over the sockets, an upper
// bound), with engine_cpu_seconds; always client_bytes_per_socket (this
// process's heap and stacks per socket), rlimit_nofile and source_addrs.
func Sockets(ctx context.Context, t Target, opts SocketsOptions, progress func(string)) (Result, error) {
	progress = orNop(progress)
	opts = opts.withDefaults()
	res := Result{Scenario: "sockets", Variant: "engine", Extra: map[string]float64{}}
	wsURL, err := t.wsURL()
	if err != nil {
		return res, err
	}
	opts.Sockets = fitFileLimit(res.Extra, opts.Sockets, 1, progress)
	opts.Users = min(opts.Users, opts.Sockets)
	if opts.Sockets == 0 {
		return res, fmt.Errorf("sockets: %w", ErrNoFiles)
	}
	client := newEngineClient(t, 16)
	defer client.close()
	agents, err := registerAgents(ctx, client, runID(), opts.Users, progress)
	if err != nil {
		return res, fmt.Errorf("sockets: %w", err)
	}
	dialer, k, err := opts.dialerFor(hostOf(t.BaseURL), opts.Sockets)
	if err != nil {
		return res, fmt.Errorf("sockets: %w", err)
	}
	res.Extra["source_addrs"] = float64(k)
	res.Extra["users"] = float64(opts.Users)

	fl := newFleet(wsURL, socketClient(dialer), nil)
	defer fl.close()
	m, err := hold(ctx, fl, opts, server{pid: opts.EnginePID, gcURL: opts.EngineGCURL}, "sockets", func(i int) string { return agents[i%opts.Users].Token }, true, progress)
	m.fill(&res)
	if err != nil {
		return res, fmt.Errorf("sockets: %w", err)
	}
	progress(fmt.Sprintf("sockets: %d open at %.0f/s, %.0f engine bytes/socket, errors %d",
		res.Ops, res.Throughput, res.Extra["rss_bytes_per_socket"], res.Errors))
	return res, nil
}

// holding is what hold measured.
type holding struct {
	rec     *recorder
	elapsed time.Duration // time spent opening sockets, holds excluded
	opened  int64
	failed  int64
	closed  int64
	// rssHalf and rssFull are the server's RSS with the first half and with
	// all the sockets open; 0 when unknown. second is how many sockets
	// opened between the two readings.
	rssHalf, rssFull int64
	second           int64
	// clientHalf and clientFull are this process's live heap and stacks.
	clientHalf, clientFull int64
	probe                  *engineProbe
	requested              int
	// settled is how long the server's RSS took to settle before the
	// first socket.
	settled time.Duration
}

func (h holding) fill(res *Result) {
	if h.rec == nil {
		return
	}
	h.rec.fill(res)
	res.Ops = h.opened
	res.Duration = h.elapsed
	if h.elapsed > 0 {
		res.Throughput = float64(h.opened) / h.elapsed.Seconds()
	}
	res.Errors = h.failed + h.closed
	x := res.Extra
	x["sockets_requested"] = float64(h.requested)
	x["sockets_open"] = float64(h.opened - h.closed)
	x["sockets_failed"] = float64(h.failed)
	x["sockets_closed_by_server"] = float64(h.closed)
	x["connect_per_s"] = res.Throughput
	x["rss_settle_seconds"] = h.settled.Seconds()
	if h.second > 0 {
		x["client_bytes_per_socket"] = float64(h.clientFull-h.clientHalf) / float64(h.second)
		if h.rssFull > 0 {
			x["rss_bytes_per_socket"] = float64(h.rssFull-h.rssHalf) / float64(h.second)
		}
	}
	if h.rssFull > 0 {
		x["server_rss_bytes"] = float64(h.rssFull)
		if h.opened > 0 {
			x["server_rss_bytes_over_sockets"] = float64(h.rssFull) / float64(h.opened)
		}
	}
	if h.probe != nil {
		h.probe.finish(x, h.opened)
	}
}

// hold makes the server collect its garbage and waits for its RSS to
// settle (settleRSS), opens opts.Sockets sockets on fl in two halves,
// keeping them idle for opts.Hold after each, and reads the server's RSS
// after each hold, once more collected and settled, as the median of
// readings over the second half of the hold (pid 0: not read). The cost of a socket is the growth between
// the two readings over the second half's sockets: a reading taken before
// any socket would carry whatever the server did before (the agents'
// registrations hash passwords with 19 MiB each, which the Go runtime
// returns to the system only lazily), while both halves see a server
// already busy with sockets.
func hold(ctx context.Context, fl *fleet, opts SocketsOptions, srv server, name string, tokenOf func(int) string, wantHello bool, progress func(string)) (holding, error) {
	h := holding{requested: opts.Sockets}
	pid := srv.pid
	progress = serialized(progress) // the ticker below reports too
	srv.collect(ctx, name, progress)
	h.settled = settleRSS(ctx, pid, name, progress)
	h.probe = startProbe(pid)
	start := time.Now()
	h.rec = newRecorder(start)
	var last int64
	stopTick := ticker(time.Second, func() {
		h.rec.cut(time.Now())
		n := fl.opened.Load()
		progress(fmt.Sprintf("%s: %d/%d open, %d/s, p99 %v, %d failed", name, n, opts.Sockets, n-last, h.rec.quantile(99), fl.failed.Load()))
		last = n
	})
	defer stopTick()
	half := opts.Sockets / 2
	// read waits out the hold, sampling the server's RSS over its second
	// half: the median of the samples, not one reading that a GC cycle or
	// the runtime returning pages may have caught.
	read := func() (rss, client int64) {
		sleepCtx(ctx, opts.Hold/2)
		if pid > 0 {
			srv.collect(ctx, name, progress)
			settleRSS(ctx, pid, name, progress)
			var err error
			if rss, err = medianRSS(ctx, pid, opts.Hold-opts.Hold/2); err != nil {
				progress(name + ": " + err.Error())
			}
		}
		return rss, liveBytes()
	}
	for phase, span := range [][2]int{{0, half}, {half, opts.Sockets}} {
		before := fl.opened.Load()
		t0 := time.Now()
		err := fl.open(ctx, span[0], span[1], opts.ConnectConcurrency, tokenOf, wantHello, h.rec)
		h.elapsed += time.Since(t0)
		h.opened, h.failed = fl.opened.Load(), fl.failed.Load()
		if err != nil {
			return h, err
		}
		progress(fmt.Sprintf("%s: %d sockets open; idle for %v", name, h.opened, opts.Hold))
		rss, client := read()
		if err := ctx.Err(); err != nil {
			return h, fmt.Errorf("hold sockets: %w", err)
		}
		if phase == 0 {
			h.rssHalf, h.clientHalf = rss, client
		} else {
			h.rssFull, h.clientFull = rss, client
			h.second = h.opened - before
		}
	}
	if h.failed > 0 {
		progress(fmt.Sprintf("%s: %d sockets failed to open; last error: %s", name, h.failed, fl.lastError()))
	}
	h.closed = fl.closedEarly.Load()
	if h.rssHalf == 0 || h.rssFull == 0 {
		h.rssHalf, h.rssFull = 0, 0
	}
	return h, nil
}

// RSS settling before the sockets are opened: the engine hashes each
// registration with argon2id (19 MiB) and the Go runtime returns that
// memory to the system only gradually; an RSS that is still falling while
// the sockets open would be counted as sockets costing less than nothing.
const (
	settleEvery  = 250 * time.Millisecond
	settleWindow = 2 * time.Second // the RSS moved less than settleBand over this
	settleBand   = 1 << 20
	settleMax    = 30 * time.Second
)

// settleRSS waits, at most settleMax, until process pid's RSS has moved
// by less than settleBand over settleWindow, and returns how long it
// waited; pid 0 returns at once.
func settleRSS(ctx context.Context, pid int, name string, progress func(string)) time.Duration {
	if pid <= 0 {
		return 0
	}
	start := time.Now()
	var window []int64
	n := int(settleWindow / settleEvery)
	for time.Since(start) < settleMax && ctx.Err() == nil {
		rss, err := procRSS(pid)
		if err != nil {
			return time.Since(start)
		}
		window = append(window, rss)
		if len(window) > n {
			window = window[1:]
		}
		if len(window) == n && slices.Max(window)-slices.Min(window) < settleBand {
			return time.Since(start)
		}
		sleepCtx(ctx, settleEvery)
	}
	progress(fmt.Sprintf("%s: server RSS still moving after %v; measuring anyway", name, settleMax))
	return time.Since(start)
}

// serialized wraps progress so that calls from several goroutines come
// one at a time.
func serialized(progress func(string)) func(string) {
	var mu sync.Mutex
	return func(s string) {
		mu.Lock()
		defer mu.Unlock()
		progress(s)
	}
}

// server is the process whose sockets hold measures.
type server struct {
	// pid is its process id; 0 when unknown (RSS not read).
	pid int
	// gcURL, when set, is fetched (GET, any 2xx) to make it collect its
	// garbage before an RSS reading.
	gcURL string
}

// collect makes the server collect its garbage when it has a gcURL; a
// failure is reported through progress and the reading goes on.
func (s server) collect(ctx context.Context, name string, progress func(string)) {
	if s.gcURL == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.gcURL, nil)
	if err == nil {
		var res *http.Response
		if res, err = http.DefaultClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode/100 != 2 {
				err = fmt.Errorf("%w %d", ErrStatus, res.StatusCode)
			}
		}
	}
	if err != nil {
		progress(fmt.Sprintf("%s: collect garbage before reading RSS (GET %s): %v", name, s.gcURL, err))
	}
}

// rssSampleEvery is how often medianRSS reads the RSS.
const rssSampleEvery = 100 * time.Millisecond

// medianRSS reads process pid's RSS every rssSampleEvery for span (at
// least once) and returns the median reading.
func medianRSS(ctx context.Context, pid int, span time.Duration) (int64, error) {
	var samples []int64
	end := time.Now().Add(span)
	for {
		rss, err := procRSS(pid)
		if err != nil {
			return 0, err
		}
		samples = append(samples, rss)
		if !time.Now().Add(rssSampleEvery).Before(end) || ctx.Err() != nil {
			break
		}
		sleepCtx(ctx, rssSampleEvery)
	}
	slices.Sort(samples)
	return samples[len(samples)/2], nil
}

// liveBytes is this process's live heap and goroutine stacks after a GC.
func liveBytes() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc + m.StackInuse)
}

// fdsReserve is how many descriptors are kept for everything but sockets.
const fdsReserve = 1024

// fitFileLimit raises RLIMIT_NOFILE for n sockets needing perSocket
// descriptors each and returns how many sockets fit: n, or fewer when the
// limit cannot be raised (reported through progress and in extra as
// rlimit_nofile and sockets_capped_by_rlimit).
func fitFileLimit(extra map[string]float64, n, perSocket int, progress func(string)) int {
	limit, err := raiseFileLimit(uint64(n*perSocket + fdsReserve))
	extra["rlimit_nofile"] = float64(limit)
	if err == nil {
		return n
	}
	fit := (int(limit) - fdsReserve) / perSocket
	if fit >= n {
		return n
	}
	fit = max(fit, 0)
	extra["sockets_capped_by_rlimit"] = 1
	progress(fmt.Sprintf("open files limit %d (pid %d) holds only %d of %d sockets; measuring %d: %v", limit, os.Getpid(), fit, n, fit, err))
	return fit
}
