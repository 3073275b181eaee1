package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/cluster/clustertest"
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

// requireRaceSafeBuild: see clustertest.RequireRaceSafeBuild.
func requireRaceSafeBuild(t *testing.T) { clustertest.RequireRaceSafeBuild(t, "./ (in bench/)") }
