package mongostore

import (
	"testing"

	"github.com/wacc/engine/persistence/servicetest"
	"github.com/wacc/engine/persistence/storetest"
)

func TestOutboundContractFerretSQLite(t *testing.T) {
	t.Parallel()
	storetest.RunOutbound(t, func(t *testing.T) storetest.OutboundTestStore { return openStore(t, handlerSQLite) })
}

func TestOutboundContractFerretPostgres(t *testing.T) {
	t.Parallel()
	servicetest.PostgresURL(t)
	storetest.RunOutbound(t, func(t *testing.T) storetest.OutboundTestStore { return openStore(t, handlerPostgres) })
}
