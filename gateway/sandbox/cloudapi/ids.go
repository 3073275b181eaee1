package cloudapi

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
	"sync/atomic"
)

// idCounter makes every generated id unique within the process, whatever
// the random part says.
var idCounter atomic.Uint64

// newWamid returns a WhatsApp message id shaped like Meta's: "wamid." and the
// standard base64 of a small record holding the customer's number and an
// 18-digit uppercase hex id, e.g.
// wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA.
// The hex id is a process-wide counter (4 bytes) plus 5 random bytes, so ids
// never repeat within one sandbox run.
func newWamid(waID string) string {
	var raw [9]byte
	binary.BigEndian.PutUint32(raw[:4], uint32(idCounter.Add(1)))
	rand.Read(raw[4:])
	hexID := strings.ToUpper(hex.EncodeToString(raw[:]))

	rec := make([]byte, 0, 2+len(waID)+6+len(hexID)+1)
	rec = append(rec, 0x1c, 0x18, byte(len(waID)))
	rec = append(rec, waID...)
	rec = append(rec, 0x15, 0x02, 0x00, 0x11, 0x18, byte(len(hexID)))
	rec = append(rec, hexID...)
	rec = append(rec, 0x00)
	return "wamid." + base64.StdEncoding.EncodeToString(rec)
}

// newMediaID returns a numeric media id like Meta's (16 digits).
func newMediaID() string {
	var b [8]byte
	rand.Read(b[:])
	n := binary.BigEndian.Uint64(b[:])%9_000_000_000_000 + 1_000_000_000_000
	return strconv.FormatUint(n, 10) + strconv.FormatUint(idCounter.Add(1)%1000+1000, 10)[1:]
}

// newConversationID returns a 32-hex-digit conversation id like Meta's.
func newConversationID() string {
	var b [16]byte
	binary.BigEndian.PutUint32(b[:4], uint32(idCounter.Add(1)))
	rand.Read(b[4:])
	return hex.EncodeToString(b[:])
}

// newTemplateID returns a numeric template id like Meta's (16 digits).
func newTemplateID() string { return newMediaID() }
