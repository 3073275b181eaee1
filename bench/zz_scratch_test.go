package bench

import (
	"io"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func TestScratchJSONLog(t *testing.T) {
	core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), zap.InfoLevel)
	for _, l := range []*zap.Logger{zap.NewNop(), zap.New(core)} {
		fp, err := conversationFootprint(t.Context(), t.TempDir(), 10000, idleAfter, l)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%.0f B/conv %.1f obj", fp.BytesPerActor(), fp.ObjectsPerActor())
	}
}
