package mongostore

import (
	"testing"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/servicetest"
	"github.com/wacc/engine/persistence/storetest"
)

func TestCallsContractFerretSQLite(t *testing.T) {
	t.Parallel()
	storetest.RunCalls(t, func(t *testing.T) actors.CallStore { return openStore(t, handlerSQLite) })
}

func TestCallsContractFerretPostgres(t *testing.T) {
	t.Parallel()
	servicetest.PostgresURL(t)
	storetest.RunCalls(t, func(t *testing.T) actors.CallStore { return openStore(t, handlerPostgres) })
}
