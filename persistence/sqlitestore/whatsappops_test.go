package sqlitestore

import (
	"testing"

	"github.com/wacc/engine/persistence/storetest"
)

func TestWhatsAppOpsContract(t *testing.T) {
	storetest.RunWhatsAppOps(t, func(t *testing.T) storetest.WhatsAppOpsTestStore { return openTemp(t) })
}
