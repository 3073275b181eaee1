package inbox

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/wacc/engine/persistence/servicetest"
)

// TestMain stops the FerretDB the two-node tests share (see
// servicetest.FerretDB), then fails the package's tests if any goroutine
// they started is still running.
func TestMain(m *testing.M) {
	code := m.Run()
	if err := servicetest.StopFerretDB(); err != nil {
		fmt.Fprintln(os.Stderr, "inbox: stop FerretDB:", err)
		if code == 0 {
			code = 1
		}
	}
	if code == 0 {
		err := goleak.Find(
			// protoactor-go's dead-letter throttle: a goroutine started by
			// the first dead letter of a period, which ends once the period
			// (one second) is over.
			goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "inbox: goroutines left running:", err)
			code = 1
		}
	}
	os.Exit(code)
}
