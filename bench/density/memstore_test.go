package density

import (
	"testing"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/storetest"
)

// TestMemStoreKeepsTheStoreContract runs the conversation engine's store
// contract suite against the in-memory store, so the actor measured over it
// meets the same answers (versions, ErrConflict, ErrDuplicate on a wamid)
// as over SQLite.
func TestMemStoreKeepsTheStoreContract(t *testing.T) {
	storetest.RunConversations(t, func(*testing.T) actors.ConversationsStore { return newMemStore() })
}
