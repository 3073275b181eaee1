package supervisors

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWorkersRunEveryBatchOnce(t *testing.T) {
	t.Parallel()
	w := newWorkers()
	const batches = 10000
	var ran [batches]atomic.Int32
	var done sync.WaitGroup
	done.Add(batches)
	var sched sync.WaitGroup
	for g := 0; g < 4; g++ {
		sched.Add(1)
		go func() {
			defer sched.Done()
			for i := g; i < batches; i += 4 {
				w.Schedule(func() {
					ran[i].Add(1)
					done.Done()
				})
			}
		}()
	}
	sched.Wait()
	done.Wait()
	for i := range ran {
		require.Equal(t, int32(1), ran[i].Load(), "batch %d", i)
	}
}

// A batch never waits for a worker: with every worker blocked (a slow store
// call), the next batch still runs.
func TestWorkersNeverMakeABatchWait(t *testing.T) {
	t.Parallel()
	w := newWorkers()
	release := make(chan struct{})
	var blocked sync.WaitGroup
	blocked.Add(maxWorkers + 1)
	var finished sync.WaitGroup
	finished.Add(maxWorkers + 1)
	for i := 0; i <= maxWorkers; i++ {
		w.Schedule(func() {
			defer finished.Done()
			blocked.Done()
			<-release
		})
	}
	blocked.Wait()
	ran := make(chan struct{})
	w.Schedule(func() { close(ran) })
	<-ran
	close(release)
	finished.Wait()
}
