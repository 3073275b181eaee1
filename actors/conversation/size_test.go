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

// TestHeldConversationFitsItsSizeClass: the messages an actor holds cost
// an idle conversation one pointer, inside the conversation's own 320-byte
// size class; each held message is 64 bytes (and its strings).
func TestHeldConversationFitsItsSizeClass(t *testing.T) {
	t.Parallel()
	if size := unsafe.Sizeof(held{}); size > 320 {
		t.Errorf("a held conversation is %d bytes, more than the 320-byte size class", size)
	}
	if size := unsafe.Sizeof(sentMessage{}); size > 64 {
		t.Errorf("a held message is %d bytes, more than 64", size)
	}
}
