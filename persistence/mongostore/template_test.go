package mongostore

import (
	"testing"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/servicetest"
	"github.com/wacc/engine/persistence/storetest"
)

func TestTemplatesContractFerretSQLite(t *testing.T) {
	t.Parallel()
	storetest.RunTemplates(t, func(t *testing.T) actors.TemplateStore { return openStore(t, handlerSQLite) })
}

func TestTemplatesContractFerretPostgres(t *testing.T) {
	t.Parallel()
	servicetest.PostgresURL(t)
	storetest.RunTemplates(t, func(t *testing.T) actors.TemplateStore { return openStore(t, handlerPostgres) })
}
