package clustertest

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/wacc/engine/persistence/servicetest"
)

// RaceExemptMarker is the last of the Makefile's RACE_EXEMPT flags, the one
// a test binary's build information records.
const RaceExemptMarker = "github.com/asynkron/protoactor-go/remote=-l"

// RequireRaceSafeBuild skips (fails with ENGINE_REQUIRE_SERVICES=1) a test
// that runs cluster nodes in its own process when the binary was built with
// -race but without the Makefile's RACE_EXEMPT: protoactor's remote swaps
// gRPC's global logger at every start, a third-party race the detector
// would report. pkg names the package to rerun in the message.
func RequireRaceSafeBuild(t testing.TB, pkg string) {
	t.Helper()
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	race, exempt := false, false
	for _, s := range bi.Settings {
		race = race || (s.Key == "-race" && s.Value == "true")
		exempt = exempt || (s.Key == "-gcflags" && strings.Contains(s.Value, RaceExemptMarker))
	}
	if !race || exempt {
		return
	}
	msg := "\n\n*** built with -race but without the Makefile's RACE_EXEMPT flags: protoactor's remote would report gRPC's logger race ***\n" +
		"*** run: make test-unit, or go test -race -gcflags='google.golang.org/grpc/grpclog/...=-race=false' -gcflags='" + RaceExemptMarker + "' " + pkg + " ***\n"
	if servicetest.Required() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
