package auth

import (
	"fmt"
	"sync"
	"time"
)

// maxVerified bounds the access tokens whose verification is remembered:
// an agent's console presents one token for many requests and sockets
// over its lifetime, and a few thousand agents hold a few thousand live
// tokens.
const maxVerified = 10_000

// verifiedTokens remembers the claims of access tokens whose signature
// and claims were verified, keyed by the whole token: a token is verified
// (HMAC and JSON) once, and each later presentation of the very same
// string costs a map lookup and the time checks. Only what depends on the
// clock (exp, nbf, iat) is checked again; nothing about a token's bytes
// can change, so nothing else can turn. Revocation is not decided here.
type verifiedTokens struct {
	mu sync.RWMutex
	m  map[string]Claims
}

// lookup returns the remembered claims of token, checked against now;
// ok is false when the token was not remembered (or no longer holds).
func (v *verifiedTokens) lookup(token string, now time.Time) (c Claims, ok bool, err error) {
	v.mu.RLock()
	c, ok = v.m[token]
	v.mu.RUnlock()
	if !ok {
		return Claims{}, false, nil
	}
	switch {
	case !now.Before(c.ExpiresAt.Time):
		v.forget(token)
		return Claims{}, true, fmt.Errorf("%w: token has expired", ErrTokenExpired)
	case now.Before(c.IssuedAt.Time) || c.NotBefore != nil && now.Before(c.NotBefore.Time):
		// The clock went back past the token's start: verify it afresh.
		return Claims{}, false, nil
	}
	return c, true, nil
}

// remember keeps the claims of a verified token. When full, tokens expired
// by now are dropped, and if none were, half of the others (a dropped one
// is verified again on its next use).
func (v *verifiedTokens) remember(token string, c Claims, now time.Time) {
	if c.ExpiresAt == nil || c.IssuedAt == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = make(map[string]Claims)
	}
	if len(v.m) >= maxVerified {
		for k, old := range v.m {
			if !now.Before(old.ExpiresAt.Time) {
				delete(v.m, k)
			}
		}
		for k := range v.m {
			if len(v.m) < maxVerified/2 {
				break
			}
			delete(v.m, k)
		}
	}
	v.m[token] = c
}

func (v *verifiedTokens) forget(token string) {
	v.mu.Lock()
	delete(v.m, token)
	v.mu.Unlock()
}
