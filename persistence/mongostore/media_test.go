package mongostore

import (
	"testing"

	"github.com/wacc/engine/persistence/servicetest"
	"github.com/wacc/engine/persistence/storetest"
)

func TestMediaContractFerretSQLite(t *testing.T) {
	t.Parallel()
	storetest.RunMedia(t, func(t *testing.T) storetest.MediaTestStore { return openStore(t, handlerSQLite) })
}

func TestMediaContractFerretPostgres(t *testing.T) {
	t.Parallel()
	servicetest.PostgresURL(t)
	storetest.RunMedia(t, func(t *testing.T) storetest.MediaTestStore { return openStore(t, handlerPostgres) })
}
