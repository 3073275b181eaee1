package density

import (
	"io"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// populationSizes are the N of the memory benchmarks: 10k, and 100k unless
// -short.
func populationSizes() []int {
	if testing.Short() {
		return []int{10_000}
	}
	return []int{10_000, 100_000}
}

// sizeLabel writes 10000 as 10k.
func sizeLabel(n int) string {
	if n%1000 == 0 {
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}

// footprints averages the footprints of repeated measurements.
type footprints struct {
	runs                            int
	bytes, objects, popSec, prepSec float64
}

func (s *footprints) add(fp footprint) {
	s.runs++
	s.bytes += fp.BytesPerActor()
	s.objects += fp.ObjectsPerActor()
	s.popSec += fp.Populate.Seconds()
	s.prepSec += fp.Prepare.Seconds()
}

func (s *footprints) bytesPer() float64   { return s.bytes / float64(s.runs) }
func (s *footprints) objectsPer() float64 { return s.objects / float64(s.runs) }
func (s *footprints) popSecs() float64    { return s.popSec / float64(s.runs) }
func (s *footprints) prepSecs() float64   { return s.prepSec / float64(s.runs) }

// conversationLoggers are the loggers the memory benchmark gives the
// conversation actors: none (the target's figure), and the JSON logger
// production runs with (10k only), since every actor keeps a child logger
// with its name as a field.
var conversationLoggers = []struct {
	name string
	// upTo is the largest N the logger is measured at.
	upTo int
	new  func() *zap.Logger
}{
	{name: "nop", upTo: 100_000, new: zap.NewNop},
	{name: "json", upTo: 10_000, new: func() *zap.Logger {
		enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
		return zap.New(zapcore.NewCore(enc, zapcore.AddSync(io.Discard), zap.InfoLevel))
	}},
}

// BenchmarkIdleConversationMemory reports the live heap one idle, active
// conversation actor holds (bytes/conversation), measured against a bare
// protoactor actor and a named bare actor with a timer in the same
// iteration (conversation/bare, conversation/timer-actor). seed-s is the
// time taken to create the conversation rows through the store, activate-s
// the time taken to apply one inbound message to each. Run it with
// -benchtime=1x: each iteration is a whole measurement.
func BenchmarkIdleConversationMemory(b *testing.B) {
	for _, n := range populationSizes() {
		for _, lg := range conversationLoggers {
			if n > lg.upTo {
				continue
			}
			b.Run("N="+sizeLabel(n)+"/log="+lg.name, func(b *testing.B) {
				var conv, plain, timer footprints
				for b.Loop() {
					fp, err := conversationFootprint(b.Context(), b.TempDir(), n, ByInbound, idleAfter, 0, lg.new())
					require.NoError(b, err)
					conv.add(fp)
					fp, err = bareFootprint(n, barePlain, 0)
					require.NoError(b, err)
					plain.add(fp)
					fp, err = bareFootprint(n, bareTimer, 0)
					require.NoError(b, err)
					timer.add(fp)
				}
				b.ReportMetric(0, "ns/op")
				b.ReportMetric(conv.bytesPer(), "bytes/conversation")
				b.ReportMetric(conv.objectsPer(), "objects/conversation")
				b.ReportMetric(plain.bytesPer(), "bytes/bare-actor")
				b.ReportMetric(timer.bytesPer(), "bytes/timer-actor")
				b.ReportMetric(conv.bytesPer()/plain.bytesPer(), "conversation/bare")
				b.ReportMetric(conv.bytesPer()/timer.bytesPer(), "conversation/timer-actor")
				b.ReportMetric(conv.prepSecs(), "seed-s")
				b.ReportMetric(conv.popSecs(), "activate-s")
				b.ReportMetric(float64(n)/conv.popSecs(), "activations/s")
			})
		}
	}
}

// BenchmarkBareActorMemory reports the live heap of one idle bare protoactor
// actor: one that does nothing (actor=plain), and a named one holding a
// small struct and an armed time.AfterFunc timer (actor=timer).
func BenchmarkBareActorMemory(b *testing.B) {
	for _, n := range populationSizes() {
		for _, kind := range bareKinds {
			b.Run("N="+sizeLabel(n)+"/actor="+string(kind), func(b *testing.B) {
				var s footprints
				for b.Loop() {
					fp, err := bareFootprint(n, kind, 0)
					require.NoError(b, err)
					s.add(fp)
				}
				b.ReportMetric(0, "ns/op")
				b.ReportMetric(s.bytesPer(), "bytes/actor")
				b.ReportMetric(s.objectsPer(), "objects/actor")
				b.ReportMetric(float64(n)/s.popSecs(), "spawns/s")
			})
		}
	}
}
