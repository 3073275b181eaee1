package gateway

import (
	"strings"
	"testing"
	"unicode"
)

// FuzzNormalizePhone: NormalizePhone never panics; what it accepts is
// E.164 (a + and 8 to 15 digits, the ITU's bound) and normalises to
// itself, in any region; letters are never accepted.
func FuzzNormalizePhone(f *testing.F) {
	for _, seed := range []struct{ raw, region string }{
		{"+14155552671", ""}, {"+919876543210", "IN"}, {"9876543210", "IN"}, {"09876543210", "IN"}, {"(415) 555-2671", "US"},
		{"+1 415 555 2671", ""}, {"0014155552671", "US"}, {"+1415555267112345", ""}, {"+1415abc2671", ""}, {"14155552671", ""},
		{"+٤١٥٥٥٥٢٦٧١", ""}, {"+1 415 555 2671 ext. 12", ""}, {"+", ""}, {"", "IN"}, {"+44 20 7946 0958", "GB"}, {"+0000000000", ""},
		{"+1\x00415", ""}, {"  +14155552671  ", ""}, {"+1-415-555-2671;ext=1", ""}, {"+" + strings.Repeat("9", 40), ""},
	} {
		f.Add(seed.raw, seed.region)
	}
	f.Fuzz(func(t *testing.T, raw, region string) {
		out, ok := NormalizePhone(raw, region)
		if !ok {
			if out != "" {
				t.Fatalf("refused %q yet returned %q", raw, out)
			}
			return
		}
		if strings.ContainsFunc(raw, unicode.IsLetter) {
			t.Fatalf("accepted %q, which has letters", raw)
		}
		digits := strings.TrimPrefix(out, "+")
		if !strings.HasPrefix(out, "+") || len(digits) < 8 || len(digits) > 15 || strings.Trim(digits, "0123456789") != "" || digits[0] == '0' {
			t.Fatalf("%q (region %q) normalised to %q, not E.164", raw, region, out)
		}
		for _, r := range []string{"", region, "IN", "US"} {
			if again, ok := NormalizePhone(out, r); !ok || again != out {
				t.Fatalf("E.164 %q does not normalise to itself in region %q: %q %v", out, r, again, ok)
			}
		}
	})
}
