package conversation

import (
	"testing"
	"unsafe"
)

// TestIdleActorFitsItsSizeClass guards what every idle conversation costs:
// the actor struct stays in the 64-byte size class (see Actor).
func TestIdleActorFitsItsSizeClass(t *testing.T) {
	t.Parallel()
	if size := unsafe.Sizeof(Actor{}); size > 64 {
		t.Errorf("conversation.Actor is %d bytes, more than the 64-byte size class", size)
	}
}
