package auth

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVerifiedTokensRecheckTheClock: a token verified once is answered
// from memory, yet still refused once expired, re-verified when the clock
// is before its issue time, and a token differing in any byte is verified
// afresh (a forged signature stays refused).
func TestVerifiedTokensRecheckTheClock(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	is := NewIssuer(testKey, testRefreshKey, 15*time.Minute, func() time.Time { return now })
	tok, want, err := is.IssueAccess("u1", "agent", "fam", 3)
	require.NoError(t, err)

	got, err := is.VerifyAccess(tok)
	require.NoError(t, err)
	assert.Equal(t, want.ID, got.ID)
	_, ok, _ := is.verified.lookup(tok, now)
	require.True(t, ok, "the verified token is remembered")

	t.Run("tampered", func(t *testing.T) {
		forged := tok[:len(tok)-2] + "AA"
		if forged == tok {
			forged = tok[:len(tok)-2] + "BB"
		}
		_, err := is.VerifyAccess(forged)
		require.ErrorIs(t, err, ErrTokenInvalid)
	})
	t.Run("clock_before_issue", func(t *testing.T) {
		saved := now
		defer func() { now = saved }()
		now = now.Add(-time.Hour)
		_, err := is.VerifyAccess(tok)
		require.ErrorIs(t, err, ErrTokenInvalid, "verified afresh: used before issued")
	})
	t.Run("expired", func(t *testing.T) {
		now = now.Add(15 * time.Minute)
		_, err := is.VerifyAccess(tok)
		require.ErrorIs(t, err, ErrTokenExpired)
		_, ok, _ := is.verified.lookup(tok, now)
		assert.False(t, ok, "an expired token is forgotten")
	})
}

// TestVerifiedTokensBounded: the remembered tokens never exceed
// maxVerified.
func TestVerifiedTokensBounded(t *testing.T) {
	now := time.Now()
	is := NewIssuer(testKey, testRefreshKey, 15*time.Minute, func() time.Time { return now })
	_, c, err := is.IssueAccess("u1", "agent", "", 0)
	require.NoError(t, err)
	for i := range maxVerified + 10 {
		is.verified.remember(string(rune(i))+"-token", c, now)
	}
	assert.LessOrEqual(t, len(is.verified.m), maxVerified)
}
