//go:build faults

package faults

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/gateway/media/samples"
)

// peakSampler polls a few of the engine's gauges until stopped and keeps
// the largest value of each.
type peakSampler struct {
	mu   sync.Mutex
	peak map[string]float64
	stop context.CancelFunc
	done chan struct{}
}

func samplePeaks(p *proc, every time.Duration, series ...string) *peakSampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &peakSampler{peak: map[string]float64{}, stop: cancel, done: make(chan struct{})}
	url := p.metricsURL()
	go func() {
		defer close(s.done)
		client := &http.Client{Timeout: 5 * time.Second}
		for ctx.Err() == nil {
			if vals, err := scrape(client, url, series...); err == nil {
				s.mu.Lock()
				for k, v := range vals {
					s.peak[k] = max(s.peak[k], v)
				}
				s.mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(every):
			}
		}
	}()
	return s
}

func (s *peakSampler) peaks() map[string]float64 {
	s.stop()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

// scrape reads the named series (without labels) from /metrics at url.
func scrape(client *http.Client, url string, series ...string) (map[string]float64, error) {
	res, err := client.Get(url + "/metrics")
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, line := range bytes.Split(raw, []byte("\n")) {
		for _, name := range series {
			if v, ok := bytes.CutPrefix(line, []byte(name+" ")); ok {
				var f float64
				if _, err := fmtSscan(string(v), &f); err == nil {
					out[name] = f
				}
			}
		}
	}
	return out, nil
}

// Test58_ConcurrentUploadsNearTheLimit: 100 uploads of a video 1 KiB under
// MEDIA_MAX_BYTES (3 MiB) at once, plus 10 one byte over it: every one is
// answered (201, or 413 for those over), the engine's heap and RSS stay far
// below what buffering the 300 MiB would take (peaks reported), and no
// spool or temporary file is left.
func Test58_ConcurrentUploadsNearTheLimit(t *testing.T) {
	t.Parallel()
	r := covers(t, 58)
	const limit = 3 << 20
	tmp := t.TempDir()
	p := start(t, map[string]string{"MEDIA_MAX_BYTES": "3145728", "TMPDIR": tmp})
	token := p.admin()
	base, err := scrape(http.DefaultClient, p.metricsURL(), "process_resident_memory_bytes", "go_memstats_heap_inuse_bytes")
	require.NoError(t, err)
	sampler := samplePeaks(p, 50*time.Millisecond, "process_resident_memory_bytes", "go_memstats_heap_inuse_bytes")

	near := samples.MP4OfSize(limit - 1024)
	over := samples.MP4OfSize(limit + 1)
	ctNear, bodyNear := multipartFile(t, "clip.mp4", "video/mp4", near)
	ctOver, bodyOver := multipartFile(t, "big.mp4", "video/mp4", over)
	const n, nOver = 100, 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	client := &http.Client{Timeout: 120 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n + nOver}}
	began := time.Now()
	// Each upload's last 4 bytes of video data differ, so each is a file of
	// its own (the same bytes would be stored once); the bodies share one
	// buffer.
	tailAt := bytes.Index(bodyNear, near) + len(near) - 4
	for i := 0; i < n+nOver; i++ {
		ct := ctNear
		body := io.MultiReader(bytes.NewReader(bodyNear[:tailAt]), bytes.NewReader([]byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}),
			bytes.NewReader(bodyNear[tailAt+4:]))
		size := int64(len(bodyNear))
		if i >= n {
			ct, body, size = ctOver, bytes.NewReader(bodyOver), int64(len(bodyOver))
		}
		wg.Add(1)
		go func(ct string, body io.Reader, size int64) {
			defer wg.Done()
			req, _ := http.NewRequest("POST", p.url+"/api/media/upload", body)
			req.ContentLength = size
			req.Header.Set("Content-Type", ct)
			req.Header.Set("Authorization", "Bearer "+token)
			st := 0
			if res, err := client.Do(req); err == nil {
				st = res.StatusCode
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
			}
			mu.Lock()
			codes[st]++
			mu.Unlock()
		}(ct, body, size)
	}
	wg.Wait()
	took := time.Since(began)
	time.Sleep(200 * time.Millisecond)
	peak := sampler.peaks()
	t.Logf("answers %v in %v; RSS %.0f MiB → peak %.0f MiB; heap in use %.0f MiB → peak %.0f MiB", codes, took,
		base["process_resident_memory_bytes"]/(1<<20), peak["process_resident_memory_bytes"]/(1<<20),
		base["go_memstats_heap_inuse_bytes"]/(1<<20), peak["go_memstats_heap_inuse_bytes"]/(1<<20))
	r.count("inputs", n+nOver)
	r.count("accepted", codes[201])
	r.count("refused_over_limit", codes[413])
	r.count("rss_peak_mib", int(peak["process_resident_memory_bytes"]/(1<<20)))
	r.count("rss_base_mib", int(base["process_resident_memory_bytes"]/(1<<20)))
	r.count("heap_inuse_peak_mib", int(peak["go_memstats_heap_inuse_bytes"]/(1<<20)))
	r.timing("all_answered", took)
	assert.Equal(t, n, codes[201], "every upload under the limit is kept: %v", codes)
	assert.Equal(t, nOver, codes[413], "every upload over the limit is refused: %v", codes)
	// Buffering would hold 100 × 3 MiB at once; streaming holds buffers.
	inFlight := float64(n * limit)
	assert.Less(t, peak["go_memstats_heap_inuse_bytes"]-base["go_memstats_heap_inuse_bytes"], inFlight/3, "heap growth well below the bytes in flight")
	assert.Less(t, peak["process_resident_memory_bytes"]-base["process_resident_memory_bytes"], inFlight/2, "RSS growth well below the bytes in flight")

	assertNoSpool(t, p.env["DATA_DIR"])
	left, _ := os.ReadDir(tmp)
	var names []string
	for _, e := range left {
		names = append(names, e.Name())
	}
	assert.Empty(t, names, "temporary files left in the engine's TMPDIR")
	var kept int
	_ = filepath.WalkDir(filepath.Join(p.env["DATA_DIR"], "media"), func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			kept++
		}
		return nil
	})
	r.count("files_kept", kept)
	assert.Equal(t, n, kept, "one stored file per accepted upload")
}

func fmtSscan(s string, f *float64) (int, error) { return fmt.Sscan(s, f) }
