package gateway_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// processCPU is this process's user and system CPU time so far.
func processCPU(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSocketConnect opens authenticated agent sockets (GET /ws) on a
// real gateway over loopback, as the bench's sockets scenario does: dial,
// upgrade (token verified, user read), hello frame read. The sockets stay
// open until 1000 are, then are closed with the timer stopped.
// cpu-µs/connect is the whole process's CPU (server and clients) per
// connect.
func BenchmarkSocketConnect(b *testing.B) {
	h := newHarness(b, harnessOpts{sockets: true})
	const users = 100
	tokens := make([]string, users)
	for i := range tokens {
		tokens[i] = h.register().Access
	}
	url := "ws" + strings.TrimPrefix(h.url, "http") + "/ws"
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, MaxIdleConnsPerHost: -1}}
	const conc = 32
	var (
		mu   sync.Mutex
		open []*websocket.Conn
		next atomic.Int64
	)
	closeAll := func() {
		mu.Lock()
		for _, c := range open {
			_ = c.CloseNow()
		}
		open = open[:0]
		mu.Unlock()
	}
	defer closeAll()
	dial := func(i int) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: client,
			HTTPHeader: http.Header{"Authorization": []string{"Bearer " + tokens[i%users]}}})
		if err != nil {
			b.Error(err)
			return
		}
		if _, hello, err := c.Read(ctx); err != nil || !strings.Contains(string(hello), `"hello"`) {
			b.Errorf("hello: %s %v", hello, err)
		}
		mu.Lock()
		open = append(open, c)
		mu.Unlock()
	}
	b.ReportAllocs()
	b.ResetTimer()
	var cpu time.Duration
	var wall time.Duration
	for done := 0; done < b.N; {
		batch := min(b.N-done, 1000)
		began, cpu0 := time.Now(), processCPU(b)
		var wg sync.WaitGroup
		next.Store(int64(done))
		end := int64(done + batch)
		for range conc {
			wg.Go(func() {
				for {
					i := next.Add(1) - 1
					if i >= end {
						return
					}
					dial(int(i))
				}
			})
		}
		wg.Wait()
		cpu += processCPU(b) - cpu0
		wall += time.Since(began)
		done += batch
		b.StopTimer()
		closeAll()
		// Let the server finish closing before the next batch is timed.
		for h.sockets.Sockets() > 0 {
			time.Sleep(time.Millisecond)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N)/wall.Seconds(), "connects/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/connect")
}

// BenchmarkAuthenticatedRequest is GET /api/auth/me over keep-alive
// loopback connections: the per-request cost of authentication (token,
// revocation, user) and the middleware around it.
func BenchmarkAuthenticatedRequest(b *testing.B) {
	h := newHarness(b, harnessOpts{})
	s := h.register()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.SetParallelism(4)
	cpu0 := processCPU(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, h.url+"/api/auth/me", nil)
			req.Header.Set("Authorization", "Bearer "+s.Access)
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/req")
}
