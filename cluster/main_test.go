//go:build multinode

package cluster_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/wacc/engine/cluster/clustertest"
	"github.com/wacc/engine/persistence/servicetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := servicetest.StopFerretDB(); err != nil {
		fmt.Fprintln(os.Stderr, "cluster: stop FerretDB:", err)
		code = 1
	}
	clustertest.Cleanup()
	os.Exit(code)
}
