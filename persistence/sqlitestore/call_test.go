package sqlitestore

import (
	"testing"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/storetest"
)

func TestCallsContract(t *testing.T) {
	storetest.RunCalls(t, func(t *testing.T) actors.CallStore { return openTemp(t) })
}
