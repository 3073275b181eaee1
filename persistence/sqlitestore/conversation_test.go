package sqlitestore

import (
	"testing"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/storetest"
)

func TestConversationsContract(t *testing.T) {
	storetest.RunConversations(t, func(t *testing.T) actors.ConversationsStore { return openTemp(t) })
}

func TestOutboundContract(t *testing.T) {
	storetest.RunOutbound(t, func(t *testing.T) storetest.OutboundTestStore { return openTemp(t) })
}

func TestTemplatesContract(t *testing.T) {
	storetest.RunTemplates(t, func(t *testing.T) actors.TemplateStore { return openTemp(t) })
}

func TestFencingContractSQLite(t *testing.T) {
	t.Parallel()
	storetest.RunFencing(t, func(t *testing.T) storetest.FencingTestStore { return openTemp(t) })
}
