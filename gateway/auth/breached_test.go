package auth

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestBreached(t *testing.T) {
	tests := []struct {
		password string
		want     bool
	}{
		{password: "password1", want: true},
		{password: "Password1", want: true}, // compared without regard to case
		{password: "PASSWORD1", want: true},
		{password: "qwertyuiop", want: true},
		{password: "iloveyou1", want: true},
		{password: "12345678", want: true},
		{password: "lumen-orbit-7", want: false},
		{password: "s3cret-pass", want: false},
		{password: "admin-password-123", want: false},
		{password: "agent-password-1", want: false},
		{password: "", want: false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Breached(tt.password), "%q", tt.password)
	}
	// The shipped list is the 8-to-128-character part of zxcvbn's list.
	assert.Greater(t, BreachedCount(), 15000)
	for p := range breachedSet() {
		assert.GreaterOrEqual(t, len([]rune(p)), MinPasswordLen, "%q is shorter than any password the rules let through", p)
	}
}

func BenchmarkBreached(b *testing.B) {
	Breached("warm-up")
	for b.Loop() {
		Breached("Lumen-Orbit-7")
	}
}
