package main

import (
	"io"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/persistence/servicetest"
)

func TestClusterScenarioMeasuresLocalAndRoutedMessages(t *testing.T) {
	requireRaceSafeBuild(t)
	env := &Env{Opts: Options{Duration: 300 * time.Millisecond, Warmup: 100 * time.Millisecond, Conns: 4, Quick: true},
		Progress: io.Discard, Tmp: t.TempDir()}
	var res Result
	require.NoError(t, runCluster(t.Context(), env, &res))

	runs := map[string]Run{}
	for _, r := range res.Runs {
		runs[r.Name] = r
	}
	for _, name := range []string{clusterRunLocal, clusterRunRouted, clusterRunLocalAlone, clusterRunRoutedAlone, clusterRunOne, clusterRunThree} {
		r, ok := runs[name]
		require.True(t, ok, "run %q in %v", name, res.Runs)
		assert.Positive(t, r.Ops, name)
		assert.Zero(t, r.Errors, "%s: first error %s", name, r.FirstError)
		assert.Positive(t, r.Latency.P50, name)
		assert.Positive(t, r.Latency.P99, name)
		assert.Positive(t, r.Extra["cpuUsPerOp"], name)
	}

	for _, name := range []string{clusterRunLocal, clusterRunLocalAlone} {
		local := runs[name]
		assert.Zero(t, local.Extra["servedByOtherNodes"], "%s: a local message is served by the node it entered", name)
		assert.GreaterOrEqual(t, local.Extra["servedByEntryNode"], float64(local.Ops), name)
	}
	for _, name := range []string{clusterRunRouted, clusterRunRoutedAlone} {
		routed := runs[name]
		assert.Zero(t, routed.Extra["servedByEntryNode"], "%s: a routed message is not served by the node it entered", name)
		assert.GreaterOrEqual(t, routed.Extra["servedByOtherNodes"], float64(routed.Ops), name)
	}
	assert.EqualValues(t, 1, runs[clusterRunOne].Extra["nodes"])
	assert.EqualValues(t, 3, runs[clusterRunThree].Extra["nodes"])

	require.NotNil(t, res.CPU)
	labels := map[string]float64{}
	for _, f := range res.CPU.Figures {
		labels[f.Label] = f.UsPerOp
	}
	assert.Positive(t, labels["local"])
	assert.Positive(t, labels["routed"])
	assert.True(t, strings.HasPrefix(res.Notes[0], "ONE MACHINE"), "the first note says it is one machine: %s", res.Notes[0])
}

// raceExemptMarker is the last of the Makefile's RACE_EXEMPT flags, the
// one a test binary's build information records.
const raceExemptMarker = "github.com/asynkron/protoactor-go/remote=-l"

// requireRaceSafeBuild skips (fails with ENGINE_REQUIRE_SERVICES=1) a test
// that runs cluster nodes in this process when it was built with -race but
// without the Makefile's RACE_EXEMPT: protoactor's remote swaps gRPC's
// global logger at every start, a third-party race the detector would
// report (as the cluster package's tests do).
func requireRaceSafeBuild(t *testing.T) {
	t.Helper()
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	race, exempt := false, false
	for _, s := range bi.Settings {
		race = race || (s.Key == "-race" && s.Value == "true")
		exempt = exempt || (s.Key == "-gcflags" && strings.Contains(s.Value, raceExemptMarker))
	}
	if !race || exempt {
		return
	}
	msg := "\n\n*** built with -race but without the Makefile's RACE_EXEMPT flags: protoactor's remote would report gRPC's logger race ***\n" +
		"*** run: make test-unit, or go test -race -gcflags='google.golang.org/grpc/grpclog/...=-race=false' -gcflags='" + raceExemptMarker + "' ./ (in bench/) ***\n"
	if servicetest.Required() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
