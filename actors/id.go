package actors

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync"
	"time"
)

var idGen struct {
	sync.Mutex
	lastMS int64
	seq    uint16
}

// NewID returns a 32-hex-character record id that sorts by creation time:
// 48 bits of Unix milliseconds, a 16-bit sequence within the millisecond, and
// 64 random bits. Ids made by one process are strictly increasing.
func NewID() string {
	idGen.Lock()
	ms := time.Now().UnixMilli()
	if ms <= idGen.lastMS {
		ms = idGen.lastMS
		idGen.seq++
		if idGen.seq == 0 { // 65536 ids in one millisecond: borrow the next one
			ms++
		}
	} else {
		idGen.seq = 0
	}
	idGen.lastMS = ms
	seq := idGen.seq
	idGen.Unlock()
	var b [16]byte
	binary.BigEndian.PutUint64(b[0:8], uint64(ms)<<16|uint64(seq)) // 48-bit ms, 16-bit seq
	rand.Read(b[8:])                                               // never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
