package whatsapp

import (
	"math/rand/v2"
	"time"
)

// Backoff parameters: the ceiling doubles from backoffBase with every
// attempt up to backoffCap.
const (
	backoffBase = time.Second
	backoffCap  = 5 * time.Minute
)

// Backoff returns how long to wait before retrying after the given failed
// attempt (1 for the first delivery, like actors.OutboundJob.Attempt), with
// "full jitter": a uniformly random duration in [0, ceiling], where ceiling
// is 1 s × 2^(attempt-1) capped at 5 minutes, raised to minDelay when below
// it. The result is never below minDelay (even when minDelay exceeds the
// cap) and never above max(minDelay, 5 min). An attempt below 1 counts as
// 1. Safe for concurrent use.
func Backoff(attempt int, minDelay time.Duration) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	ceiling := backoffCap
	// 1 s << 9 = 512 s is already past the cap; stop shifting long before
	// the shift could overflow.
	if attempt <= 10 {
		ceiling = min(backoffBase<<(attempt-1), backoffCap)
	}
	d := time.Duration(rand.Int64N(int64(ceiling) + 1))
	return max(d, minDelay)
}
