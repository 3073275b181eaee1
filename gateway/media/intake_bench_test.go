package media_test

import (
	"bytes"
	"testing"

	"github.com/wacc/engine/gateway/media"
	"github.com/wacc/engine/gateway/media/samples"
)

// BenchmarkReceive measures the intake of one 1 MB JPEG: spool, hash,
// detect, check (no HTTP, no storage).
func BenchmarkReceive(b *testing.B) {
	in, err := media.NewIntake(media.Options{Dir: b.TempDir(), MaxBytes: 100 * media.MB})
	if err != nil {
		b.Fatal(err)
	}
	img := samples.JPEGOfSize(media.MB)
	b.SetBytes(int64(len(img)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		u, err := in.Receive(b.Context(), bytes.NewReader(img), "receipt.jpg", "image/jpeg")
		if err != nil {
			b.Fatal(err)
		}
		u.Discard()
	}
}
