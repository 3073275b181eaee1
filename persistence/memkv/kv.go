package memkv

import (
	"container/list"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for the zero fields of Options.
const (
	DefaultCacheMaxEntries = 10_000
	DefaultHoldoff         = 10 * time.Second
	DefaultJanitorInterval = 30 * time.Second
)

// Options configures a KV. Zero fields take the defaults above.
type Options struct {
	// CacheMaxEntries bounds the number of cached values (LRU eviction).
	CacheMaxEntries int
	// Holdoff is how long a tombstone left by CacheInvalidate refuses fills.
	Holdoff time.Duration
	// JanitorInterval is how often expired entries are swept.
	JanitorInterval time.Duration
	// Now is the clock; tests inject a fake one. Defaults to time.Now.
	Now func() time.Time
}

// KV is the in-process store. Build it with New and stop it with Close.
type KV struct {
	now        func() time.Time
	holdoff    time.Duration
	maxEntries int

	revMu   sync.RWMutex
	revoked map[string]time.Time // jti -> until
	// live is len(revoked), read without the lock.
	live atomic.Int64

	limMu   sync.Mutex
	buckets map[string]time.Time // key -> theoretical arrival time (GCRA)

	cacheMu    sync.Mutex
	lru        *list.List               // of *cacheEntry, most recently used first
	entries    map[string]*list.Element // key -> element of lru
	tombstones map[string]time.Time     // key -> end of hold-off

	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}
}

// New returns a KV and starts its janitor; call Close to stop it.
func New(opts Options) *KV {
	if opts.CacheMaxEntries <= 0 {
		opts.CacheMaxEntries = DefaultCacheMaxEntries
	}
	if opts.Holdoff <= 0 {
		opts.Holdoff = DefaultHoldoff
	}
	if opts.JanitorInterval <= 0 {
		opts.JanitorInterval = DefaultJanitorInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	k := &KV{
		now:        opts.Now,
		holdoff:    opts.Holdoff,
		maxEntries: opts.CacheMaxEntries,
		revoked:    make(map[string]time.Time),
		buckets:    make(map[string]time.Time),
		lru:        list.New(),
		entries:    make(map[string]*list.Element),
		tombstones: make(map[string]time.Time),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	go k.janitor(opts.JanitorInterval)
	return k
}

// Close stops the janitor and waits for it to return. It is safe to call
// more than once; the store stays usable afterwards.
func (k *KV) Close() error {
	k.closeOnce.Do(func() { close(k.stop) })
	<-k.done
	return nil
}

func (k *KV) janitor(every time.Duration) {
	defer close(k.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-k.stop:
			return
		case <-t.C:
			k.sweep()
		}
	}
}

// sweep drops everything that has expired by now.
func (k *KV) sweep() {
	now := k.now()

	k.revMu.Lock()
	for jti, until := range k.revoked {
		if !now.Before(until) {
			delete(k.revoked, jti)
			k.live.Add(-1)
		}
	}
	k.revMu.Unlock()

	k.limMu.Lock()
	for key, tat := range k.buckets {
		if !now.Before(tat) { // back to a full burst: same as no bucket
			delete(k.buckets, key)
		}
	}
	k.limMu.Unlock()

	k.cacheMu.Lock()
	for _, el := range k.entries {
		if !now.Before(el.Value.(*cacheEntry).expires) {
			k.removeEntry(el)
		}
	}
	for key, end := range k.tombstones {
		if !now.Before(end) {
			delete(k.tombstones, key)
		}
	}
	k.cacheMu.Unlock()
}
