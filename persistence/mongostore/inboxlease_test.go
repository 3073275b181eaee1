package mongostore

import (
	"testing"

	"github.com/wacc/engine/persistence/servicetest"
	"github.com/wacc/engine/persistence/storetest"
)

// TestInboxClaimDrainsOnceAndReportsItsCost logs what the inbox leases
// cost on FerretDB (see storetest.InboxClaimCost) and checks the drain.
func TestInboxClaimDrainsOnceAndReportsItsCost(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { storetest.InboxClaimCost(t, openStore(t, handlerSQLite), 7) })
	t.Run("postgres", func(t *testing.T) {
		servicetest.PostgresURL(t)
		storetest.InboxClaimCost(t, openStore(t, handlerPostgres), 7)
	})
}
