package gateway

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A remembered answer is the answer: valid and invalid numbers read the
// same the second time as the first.
func TestNormalizePhoneAnswersTheSameFromItsCache(t *testing.T) {
	cases := []struct{ raw, region, want string }{
		{"+919876543210", "", "+919876543210"},
		{" +91 98765 43210 ", "", "+919876543210"},
		{"9876543210", "IN", "+919876543210"},
		{"+1", "", ""},
		{"12345", "", ""},
	}
	for _, c := range cases {
		for range 2 {
			got, ok := NormalizePhone(c.raw, c.region)
			assert.Equal(t, c.want, got, "%q in %q", c.raw, c.region)
			assert.Equal(t, c.want != "", ok, "%q in %q", c.raw, c.region)
		}
	}
}

// The cache never holds more than phoneCacheSize numbers, whatever the
// requests send.
func TestPhoneCacheIsBounded(t *testing.T) {
	c := &phoneCache{m: make(map[phoneKey]normalized)}
	for i := range phoneCacheSize + 10 {
		c.put(phoneKey{raw: "+" + strconv.Itoa(i)}, normalized{})
	}
	assert.LessOrEqual(t, len(c.m), phoneCacheSize)
	_, ok := c.get(phoneKey{raw: "+" + strconv.Itoa(phoneCacheSize+9)})
	assert.True(t, ok, "the newest number is kept")
}
