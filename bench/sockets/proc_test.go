package sockets

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRSS(t *testing.T) {
	status := "Name:\tengine\nVmPeak:\t  900 kB\nVmRSS:\t  123456 kB\nThreads:\t9\n"
	rss, err := parseRSS(strings.NewReader(status))
	require.NoError(t, err)
	assert.Equal(t, int64(123456*1024), rss)
	_, err = parseRSS(strings.NewReader("Name:\tx\n"))
	require.Error(t, err)
	_, err = parseRSS(strings.NewReader("VmRSS:\t12 MB\n"))
	require.Error(t, err)
}

func TestParseStatCPU(t *testing.T) {
	// utime 250 and stime 150 ticks; the command name holds spaces and ')'.
	line := "4242 (my (odd) engine) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 9 0 100 1000 50"
	cpu, err := parseStatCPU([]byte(line))
	require.NoError(t, err)
	assert.Equal(t, 4*time.Second, cpu)
	_, err = parseStatCPU([]byte("4242 (x) S 1 2"))
	require.Error(t, err)
}

func TestProcOfThisProcess(t *testing.T) {
	rss, err := procRSS(os.Getpid())
	require.NoError(t, err)
	assert.Greater(t, rss, int64(1<<20))
	_, err = procCPU(os.Getpid())
	require.NoError(t, err)
	_, err = procRSS(-5)
	require.Error(t, err)
}

func TestMedianRSSOfThisProcess(t *testing.T) {
	rss, err := medianRSS(context.Background(), os.Getpid(), 3*rssSampleEvery)
	require.NoError(t, err)
	assert.Greater(t, rss, int64(1<<20))
	_, err = medianRSS(context.Background(), -5, rssSampleEvery)
	require.Error(t, err)
	assert.Zero(t, settleRSS(context.Background(), 0, "x", nil), "no process, no wait")
}
