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

// TestHeldConversationFitsItsSizeClass: an idle conversation holds its
// state in the 144-byte size class (an actors.Conversation takes 320), the
// messages it holds costing it one pointer; each held message is 64 bytes
// (and its strings).
func TestHeldConversationFitsItsSizeClass(t *testing.T) {
	t.Parallel()
	if size := unsafe.Sizeof(held{}); size > 144 {
		t.Errorf("a held conversation is %d bytes, more than the 144-byte size class", size)
	}
	if size := unsafe.Sizeof(sentMessage{}); size > 64 {
		t.Errorf("a held message is %d bytes, more than 64", size)
	}
}

// TestAlarmIsSixteenBytes: an idle conversation's wake costs it one heap
// entry of its Props' alarms, not a runtime timer of its own.
func TestAlarmIsSixteenBytes(t *testing.T) {
	t.Parallel()
	if size := unsafe.Sizeof(alarm{}); size > 16 {
		t.Errorf("an alarm is %d bytes, more than 16", size)
	}
}
