package gateway

import "sync"

// phoneCacheSize bounds the numbers NormalizePhone remembers. Parsing and
// validating a number (libphonenumber's metadata and regular expressions)
// was about 4% of the engine's CPU under the outbound load, where every
// send to "+<number>" normalises a number it normalised before; the result
// depends only on the input, so it is kept. When full the cache starts
// over: the keys come from requests, so it must not grow without bound.
const phoneCacheSize = 1 << 16

// phones is NormalizePhone's cache.
var phones = &phoneCache{m: make(map[phoneKey]normalized)}

type phoneKey struct{ raw, region string }

// normalized is NormalizePhone's answer for a key: the E.164 form, and
// whether the number is valid.
type normalized struct {
	e164 string
	ok   bool
}

type phoneCache struct {
	mu sync.RWMutex
	m  map[phoneKey]normalized
}

func (c *phoneCache) get(k phoneKey) (normalized, bool) {
	c.mu.RLock()
	p, ok := c.m[k]
	c.mu.RUnlock()
	return p, ok
}

func (c *phoneCache) put(k phoneKey, p normalized) {
	c.mu.Lock()
	if len(c.m) >= phoneCacheSize {
		clear(c.m)
	}
	c.m[k] = p
	c.mu.Unlock()
}
