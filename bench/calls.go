package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// callsPacing is what the calls scenario's engine child runs with: the
// built-in Exotel sandbox rings for 20 ms and talks for 50 ms (each with up
// to a fifth of jitter), and as many connect requests may be in flight to
// it as there are callers.
var callsPacing = []string{"SANDBOX_EXOTEL_RING_DELAY=20ms", "SANDBOX_EXOTEL_TALK_DELAY=50ms", "CALL_WORKERS=64"}

// callOutcomeSuffix ends every customer's number: the sandbox answers such
// a call and completes it with a talk duration (see package
// gateway/sandbox/exotel for the suffixes that fail).
const callOutcomeSuffix = "0001"

// runCalls places calls end to end (API → call actor → exotel.outbound
// queue → sender → the engine's Exotel sandbox → its status callbacks →
// the call actor) with the in-process queue and, when the broker answers,
// RabbitMQ, and checks that every accepted call was placed exactly once.
func runCalls(ctx context.Context, env *Env, res *Result) error {
	variants := []struct {
		name string
		env  []string
	}{{name: "in-process queue"}}
	if env.Opts.Target != "" {
		variants[0].name = "target"
	}
	rabbit := env.Opts.Target == "" && reachable(env.Opts.RabbitURL)
	queue := "bench.calls." + strconv.FormatInt(time.Now().UnixNano(), 36)
	if rabbit {
		variants = append(variants, struct {
			name string
			env  []string
		}{name: "RabbitMQ", env: []string{"RABBITMQ_URL=" + env.Opts.RabbitURL, "RABBITMQ_QUEUE=" + queue + ".wa", "RABBITMQ_CALL_QUEUE=" + queue}})
	} else if env.Opts.Target == "" {
		res.Notes = append(res.Notes, "RabbitMQ at "+redact(env.Opts.RabbitURL)+" is unreachable: the RabbitMQ variant is skipped")
	}
	for _, v := range variants {
		g, err := env.startEngine(ctx, append(append([]string(nil), callsPacing...), v.env...)...)
		if err != nil {
			return err
		}
		out, err := callsRun(ctx, env, g, v.name, env.Opts.Conns)
		_ = g.Stop()
		if err != nil {
			return fmt.Errorf("calls %s: %w", v.name, err)
		}
		res.Runs = append(res.Runs, out.accept, out.closed)
		if !out.check.unchecked {
			res.Comparisons = append(res.Comparisons, compare("accepted calls not placed exactly once at the Exotel sandbox, "+v.name, float64(out.check.wrong()), 0, "", true))
		}
		res.Notes = append(res.Notes, out.notes...)
	}
	if rabbit {
		if err := deleteQueues(env.Opts.RabbitURL, append(engineQueues(queue), engineQueues(queue+".wa")...)...); err != nil {
			res.Notes = append(res.Notes, err.Error())
		}
	}
	res.Notes = append(res.Notes,
		fmt.Sprintf("%d callers (supervisors, each with its own phone and its own customer ending %s: answered, then completed), one live call each, so %d calls in flight; the built-in Exotel sandbox rings 20 ms and talks 50 ms; CALL_WORKERS=64", env.Opts.Conns, callOutcomeSuffix, env.Opts.Conns),
		"a call is closed when a supervisor's socket (one watcher for all callers) gets its call.updated with a terminal status; it counts as completed only with status completed and durationSec > 0, i.e. once both of the sandbox's callbacks (answered, terminal) were stored and applied by the call's actor; engine CPU per call includes the sandbox, which runs inside the engine",
	)
	return nil
}

// callsOutput is one variant's figures.
type callsOutput struct {
	accept, closed Run
	check          placedCheck
	notes          []string
}

// caller is a supervisor with a phone, and the customer it calls.
type caller struct {
	token, customerID string
}

// callsRun sets up the callers and their customers, places calls for the
// warm-up and the measurement (each caller waits until its call is closed
// before it places the next), then waits for every accepted call to close
// and checks the Exotel sandbox's log of placed calls.
func callsRun(ctx context.Context, env *Env, g *engine, name string, callers int) (callsOutput, error) {
	var out callsOutput
	admin, err := g.login(ctx)
	if err != nil {
		return out, err
	}
	fmt.Fprintf(env.Progress, "  %-28s setting up %d callers and their customers\n", name, callers)
	cs, err := setUpCallers(ctx, g, admin, callers)
	if err != nil {
		return out, err
	}
	sandbox := strings.TrimRight(env.Opts.ExotelSandboxURL, "/")
	if g.Child() {
		sandbox = g.ExotelURL
	}
	tr := newCallTracker()
	watch, err := tr.watch(ctx, g, admin)
	if err != nil {
		return out, err
	}
	defer watch.close()

	free := make(chan int, len(cs))
	for i := range cs {
		free <- i
	}
	acc := newRecorder(int(env.Opts.Warmup / time.Second))
	tickDone := make(chan struct{})
	var ticking sync.WaitGroup
	ticking.Add(1)
	go func() {
		defer ticking.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-tickDone:
				return
			case <-t.C:
				acc.tick()
			}
		}
	}()
	closed := env.loadWithCPU(ctx, g, loadSpec{Name: name + ": initiate→closed", Workers: len(cs), Rate: env.Opts.Rate,
		OnMeasure: acc.startMeasuring,
		Op: func(ctx context.Context, _ int64) error {
			i := <-free
			defer func() { free <- i }()
			c := cs[i]
			began := time.Now()
			id, err := initiateCall(ctx, g, c)
			if ctx.Err() == nil {
				acc.record(time.Since(began), err)
			}
			if err != nil {
				return err
			}
			tr.accept(id)
			v, err := tr.waitClosed(ctx, g, c.token, id)
			if err != nil {
				return err
			}
			if v.Status != "completed" || v.DurationSec <= 0 {
				return fmt.Errorf("call %s closed %s after %d s of talk, want completed with a talk time", id, v.Status, v.DurationSec)
			}
			return nil
		}})
	close(tickDone)
	ticking.Wait()
	out.closed = closed
	out.accept = acceptRun(name, acc, closed.Seconds)

	fmt.Fprintf(env.Progress, "  %-28s drain   waiting for every accepted call to close\n", name)
	unclosed := tr.drain(ctx, g, admin, time.Minute)
	st := tr.stats()
	out.closed.Extra = map[string]float64{
		"accepted": float64(st.accepted), "closed": float64(st.closed), "completed": float64(st.completed),
		"otherTerminal": float64(st.closed - st.completed), "unclosed": float64(unclosed),
		"closedByPoll": float64(st.byPoll), "watcherFrames": float64(watch.frames.Load()), "watcherDrops": float64(watch.drops.Load()),
	}
	if sandbox == "" {
		out.notes = append(out.notes, name+": the Exotel sandbox's address is unknown (pass --exotel-sandbox with --target): calls placed were not counted")
		out.check.unchecked = true
		return out, nil
	}
	out.check, err = checkPlacedOnce(ctx, g, sandbox, tr)
	if err != nil {
		return out, err
	}
	for k, v := range out.check.extra() {
		out.closed.Extra[k] = v
	}
	out.notes = append(out.notes, fmt.Sprintf("%s: %d calls accepted (warm-up included), %d closed (%d completed, %d closed by polling GET /api/calls/{id}), %d never closed; the sandbox placed %d: %d placed twice, %d accepted and not placed, %d placed that the bench did not place%s",
		name, st.accepted, st.closed, st.completed, st.byPoll, unclosed, out.check.placed, out.check.twice, out.check.notPlaced, out.check.foreign, out.check.partialNote()))
	return out, nil
}

// acceptRun is the initiate→202 run recorded beside the closed-loop one.
func acceptRun(name string, acc *recorder, seconds float64) Run {
	acc.mu.Lock()
	defer acc.mu.Unlock()
	r := Run{Name: name + ": initiate→202", Ops: acc.ops, Errors: acc.errs, Seconds: seconds, Latency: summarize(acc.total), Series: acc.series, FirstError: acc.firstErr}
	if seconds > 0 {
		r.Rate = float64(r.Ops) / seconds
	}
	return r
}

// setUpCallers registers n users, makes them supervisors (they see every
// customer), gives each a phone and creates its customer, eight at a time.
func setUpCallers(ctx context.Context, g *engine, admin string, n int) ([]caller, error) {
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	// Customers' numbers are unique per engine: start at a random block so
	// runs against one --target rarely collide (a collision reuses the
	// customer).
	off, err := rand.Int(rand.Reader, big.NewInt(10000))
	if err != nil {
		return nil, err
	}
	out := make([]caller, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for range min(n, 8) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				c, err := setUpCaller(ctx, g, admin, run, i, fmt.Sprintf("+9198%04d%s", (int(off.Int64())+i)%10000, callOutcomeSuffix))
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				out[i] = c
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("set up %d callers: %w", n, firstErr)
	}
	return out, ctx.Err()
}

func setUpCaller(ctx context.Context, g *engine, admin, run string, i int, customerPhone string) (caller, error) {
	var reg struct {
		Data struct {
			User struct {
				ID string `json:"id"`
			} `json:"user"`
			AccessToken string `json:"accessToken"`
		} `json:"data"`
	}
	email, password := fmt.Sprintf("bench-%s-caller-%d@bench.example.com", run, i), "bench-password-"+run
	body, _ := json.Marshal(map[string]string{"email": email, "password": password, "name": fmt.Sprintf("Bench caller %d", i)})
	if err := g.do(ctx, http.MethodPost, g.URL+"/api/auth/register", "", body, http.StatusCreated, &reg); err != nil {
		return caller{}, err
	}
	if err := g.do(ctx, http.MethodPatch, g.URL+"/api/users/"+url.PathEscape(reg.Data.User.ID)+"/role", admin, []byte(`{"role":"supervisor"}`), http.StatusOK, nil); err != nil {
		return caller{}, err
	}
	// A role change ends the user's older tokens: log in again.
	login, _ := json.Marshal(map[string]string{"email": email, "password": password})
	if err := g.do(ctx, http.MethodPost, g.URL+"/api/auth/login", "", login, http.StatusOK, &reg); err != nil {
		return caller{}, err
	}
	c := caller{token: reg.Data.AccessToken}
	phone := fmt.Sprintf(`{"phone":"+9197%08d"}`, i)
	if err := g.do(ctx, http.MethodPatch, g.URL+"/api/auth/me", c.token, []byte(phone), http.StatusOK, nil); err != nil {
		return caller{}, err
	}
	id, err := ensureCustomer(ctx, g, admin, customerPhone, fmt.Sprintf("Bench callee %d", i))
	if err != nil {
		return caller{}, err
	}
	c.customerID = id
	return c, nil
}

// ensureCustomer creates a customer with phone, or finds the one that has
// it already.
func ensureCustomer(ctx context.Context, g *engine, token, phone, name string) (string, error) {
	var created struct {
		Data struct {
			Customer struct {
				ID string `json:"id"`
			} `json:"customer"`
		} `json:"data"`
	}
	body, _ := json.Marshal(map[string]string{"name": name, "phone": phone})
	err := g.do(ctx, http.MethodPost, g.URL+"/api/customers", token, body, http.StatusCreated, &created)
	if err == nil {
		return created.Data.Customer.ID, nil
	}
	var found struct {
		Data struct {
			Items []struct {
				ID    string `json:"id"`
				Phone string `json:"phone"`
			} `json:"items"`
		} `json:"data"`
	}
	if ferr := g.do(ctx, http.MethodGet, g.URL+"/api/customers?limit=10&search="+url.QueryEscape(phone), token, nil, http.StatusOK, &found); ferr == nil {
		for _, c := range found.Data.Items {
			if c.Phone == phone {
				return c.ID, nil
			}
		}
	}
	return "", err
}

// initiateCall asks for a call from c to its customer and returns the
// call's id. The request is not cut short by the end of the run: a call
// the engine accepted is always known to the bench, so the placed-once
// check can account for it.
func initiateCall(ctx context.Context, g *engine, c caller) (string, error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var out struct {
		Data struct {
			Call callView `json:"call"`
		} `json:"data"`
	}
	body, _ := json.Marshal(map[string]string{"customerId": c.customerID})
	if err := g.do(rctx, http.MethodPost, g.URL+"/api/calls/initiate", c.token, body, http.StatusAccepted, &out); err != nil {
		return "", err
	}
	if out.Data.Call.ID == "" {
		return "", errors.New("POST /api/calls/initiate: 202 without a call id")
	}
	return out.Data.Call.ID, nil
}
