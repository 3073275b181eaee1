package sqlitestore

import (
	"testing"

	"github.com/wacc/engine/persistence/storetest"
)

func TestMediaContract(t *testing.T) {
	storetest.RunMedia(t, func(t *testing.T) storetest.MediaTestStore { return openTemp(t) })
}
