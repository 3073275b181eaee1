package mongostore

import (
	"testing"

	"github.com/wacc/engine/persistence/servicetest"
	"github.com/wacc/engine/persistence/storetest"
)

func TestWhatsAppOpsContractFerretSQLite(t *testing.T) {
	t.Parallel()
	storetest.RunWhatsAppOps(t, func(t *testing.T) storetest.WhatsAppOpsTestStore { return openStore(t, handlerSQLite) })
}

func TestWhatsAppOpsContractFerretPostgres(t *testing.T) {
	t.Parallel()
	servicetest.PostgresURL(t)
	storetest.RunWhatsAppOps(t, func(t *testing.T) storetest.WhatsAppOpsTestStore { return openStore(t, handlerPostgres) })
}
