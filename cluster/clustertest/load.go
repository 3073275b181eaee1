package clustertest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// PhoneNumberID is the business number the load writes to.
const PhoneNumberID = "106540352242922"

// Sent is one webhook the load posted.
type Sent struct {
	Wamid, WaID, Node string
	Status            int
	Err               error
	At                time.Time
	Took              time.Duration
}

// Load posts signed single-message webhooks to the cluster's nodes in
// turn, from several goroutines, for Customers customers, until Stop.
type Load struct {
	c       *Cluster
	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	sent    []Sent
	seq     atomic.Int64
	prefix  string
	paused  sync.Map // node name -> true: skip it
	waIDs   []string
	started time.Time
}

// StartLoad begins posting from workers goroutines, each pausing gap
// between its webhooks.
func StartLoad(c *Cluster, customers, workers int, gap time.Duration) *Load {
	l := &Load{c: c, stop: make(chan struct{}), prefix: ID(), started: time.Now()}
	for i := range customers {
		// From 0100 on: the sandbox answers sends to numbers ending in
		// 0001-0008 with its scripted faults (0005: every free-form send
		// fails with 131047, which expires the conversation, so the next
		// send is refused with 422 OUTSIDE_SERVICE_WINDOW; 0003 holds the
		// first send 30 s), which these tests are not about.
		l.waIDs = append(l.waIDs, fmt.Sprintf("9199%08d", i+100))
	}
	for w := range workers {
		l.wg.Add(1)
		go l.run(w, gap)
	}
	return l
}

// WaIDs are the customers the load writes as.
func (l *Load) WaIDs() []string { return l.waIDs }

func (l *Load) run(w int, gap time.Duration) {
	defer l.wg.Done()
	for i := 0; ; i++ {
		select {
		case <-l.stop:
			return
		default:
		}
		nodes := l.c.Nodes
		n := nodes[(w+i)%len(nodes)]
		if _, skip := l.paused.Load(n.Name); skip || !n.Running() {
			time.Sleep(gap)
			continue
		}
		k := l.seq.Add(1)
		waID := l.waIDs[int(k)%len(l.waIDs)]
		wamid := fmt.Sprintf("wamid.%s.%06d", l.prefix, k)
		at := time.Now()
		st, err := n.Webhook(TextBody(PhoneNumberID, waID, wamid, fmt.Sprintf("load %d", k), at))
		l.mu.Lock()
		l.sent = append(l.sent, Sent{Wamid: wamid, WaID: waID, Node: n.Name, Status: st, Err: err, At: at, Took: time.Since(at)})
		l.mu.Unlock()
		time.Sleep(gap)
	}
}

// Skip stops sending to the node (while it is frozen, say), or resumes.
func (l *Load) Skip(node string, skip bool) {
	if skip {
		l.paused.Store(node, true)
	} else {
		l.paused.Delete(node)
	}
}

// Stop ends the load and returns every webhook posted.
func (l *Load) Stop() []Sent {
	close(l.stop)
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Sent(nil), l.sent...)
}

// Accepted is the wamids answered 200.
func Accepted(sent []Sent) []string {
	var out []string
	for _, s := range sent {
		if s.Status == 200 {
			out = append(out, s.Wamid)
		}
	}
	return out
}

// Mongo is a client of the cluster's MongoDB (FerretDB), closed when the
// test ends.
func (c *Cluster) Mongo(t testing.TB) *mongo.Database {
	t.Helper()
	cl, err := mongo.Connect(options.Client().ApplyURI(c.mongoURI))
	if err != nil {
		t.Fatalf("mongo: %v", err)
	}
	t.Cleanup(func() { _ = cl.Disconnect(context.Background()) })
	return cl.Database(c.Shared["MONGODB_DATABASE"])
}

// StoredCounts is how many stored messages carry each wamid of prefix
// (WhatsApp's message id is unique by the store's contract: more than one
// is a duplicate applied twice).
func (c *Cluster) StoredCounts(t testing.TB, db *mongo.Database) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cur, err := db.Collection("messages").Find(ctx, bson.D{{Key: "waMessageId", Value: bson.D{{Key: "$exists", Value: true}}}},
		options.Find().SetProjection(bson.D{{Key: "waMessageId", Value: 1}}))
	if err != nil {
		t.Fatalf("read messages: %v", err)
	}
	defer cur.Close(ctx)
	out := map[string]int{}
	for cur.Next(ctx) {
		var d struct {
			W string `bson:"waMessageId"`
		}
		if err := cur.Decode(&d); err != nil {
			t.Fatalf("decode message: %v", err)
		}
		out[d.W]++
	}
	if err := cur.Err(); err != nil {
		t.Fatalf("read messages: %v", err)
	}
	return out
}

// WaitStored polls until every wamid is stored (or the wait ends) and
// returns the last counts.
func (c *Cluster) WaitStored(t testing.TB, wamids []string, wait time.Duration) map[string]int {
	t.Helper()
	db := c.Mongo(t)
	deadline := time.Now().Add(wait)
	for {
		counts := c.StoredCounts(t, db)
		missing := 0
		for _, w := range wamids {
			if counts[w] == 0 {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			if missing > 0 {
				t.Logf("%d of %d accepted webhooks not stored after %s", missing, len(wamids), wait)
			}
			return counts
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// SeqClashes lists the conversations in which two stored messages share a
// Seq: a write from a stale activation (one that did not see the newer
// activation's messages) applied beside the newer one's.
func (c *Cluster) SeqClashes(t testing.TB, db *mongo.Database) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cur, err := db.Collection("messages").Find(ctx, bson.D{},
		options.Find().SetProjection(bson.D{{Key: "conversationId", Value: 1}, {Key: "seq", Value: 1}, {Key: "direction", Value: 1}}))
	if err != nil {
		t.Fatalf("read messages: %v", err)
	}
	defer cur.Close(ctx)
	seen := map[string]bool{}
	var out []string
	for cur.Next(ctx) {
		var d struct {
			C   string `bson:"conversationId"`
			Seq int64  `bson:"seq"`
			Dir string `bson:"direction"`
		}
		if err := cur.Decode(&d); err != nil {
			t.Fatalf("decode message: %v", err)
		}
		if d.Dir != "inbound" {
			continue
		}
		k := fmt.Sprintf("%s/%d", d.C, d.Seq)
		if seen[k] {
			out = append(out, k)
		}
		seen[k] = true
	}
	return out
}

// CheckAccepted waits until every accepted wamid is stored and requires
// each exactly once, and no wamid stored twice; an empty list fails (a
// check of nothing).
func (c *Cluster) CheckAccepted(t testing.TB, accepted []string, wait time.Duration) {
	t.Helper()
	if len(accepted) == 0 {
		t.Fatal("no webhook was accepted: the load did not run, so nothing is checked")
	}
	counts := c.WaitStored(t, accepted, wait)
	bad := 0
	var missing []string
	for _, w := range accepted {
		if counts[w] == 0 {
			missing = append(missing, w)
		}
		if counts[w] != 1 {
			bad++
			if bad <= 10 {
				t.Errorf("wamid %s was answered 200 and is stored %d times", w, counts[w])
			}
		}
	}
	for w, n := range counts {
		if n > 1 {
			t.Errorf("wamid %s stored %d times", w, n)
		}
	}
	if bad > 0 {
		t.Logf("missing: %v", missing)
		c.LogInbox(t)
		// Say whether they were late or lost: wait as long again.
		late := c.WaitStored(t, accepted, wait)
		still := 0
		for _, w := range accepted {
			if late[w] == 0 {
				still++
			}
		}
		t.Fatalf("%d of %d accepted webhooks not stored exactly once after %s; %d still missing after %s more", bad, len(accepted), wait, still, wait)
	}
}

// LogInbox logs the entries left in the shared inbox: an accepted webhook
// that is not stored is either still there (not applied: see its owner,
// lease and attempts) or was deleted without being applied.
func (c *Cluster) LogInbox(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cur, err := c.Mongo(t).Collection("inbox").Find(ctx, bson.D{},
		options.Find().SetProjection(bson.D{{Key: "body", Value: 0}}))
	if err != nil {
		t.Logf("read the inbox: %v", err)
		return
	}
	defer cur.Close(ctx)
	n := 0
	for cur.Next(ctx) {
		n++
		if n <= 50 {
			t.Logf("inbox entry left: %v", cur.Current)
		}
	}
	t.Logf("%d inbox entries left", n)
}
