package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

var (
	testKey        = []byte("0123456789abcdef0123456789abcdef")
	testRefreshKey = []byte("fedcba9876543210fedcba9876543210")
)

func TestVerifyAccess(t *testing.T) {
	now := time.Now()
	is := NewIssuer(testKey, testRefreshKey, 15*time.Minute, func() time.Time { return now })
	good, claims, err := is.IssueAccess("user-1", "agent", "fam", 3)
	require.NoError(t, err)

	sign := func(m jwt.SigningMethod, key any, c jwt.Claims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		require.NoError(t, err)
		return s
	}
	valid := func() Claims {
		return Claims{Role: "admin", RegisteredClaims: jwt.RegisteredClaims{
			Issuer: issuer, Subject: "u", ID: "j",
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)),
		}}
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)

	cases := []struct {
		name    string
		token   string
		wantErr error // nil means the token verifies
	}{
		{name: "issued token", token: good},
		{name: "alg none", token: sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid()), wantErr: ErrTokenInvalid},
		{name: "HS512 with right key", token: sign(jwt.SigningMethodHS512, testKey, valid()), wantErr: ErrTokenInvalid},
		{name: "ES256", token: sign(jwt.SigningMethodES256, ecKey, valid()), wantErr: ErrTokenInvalid},
		{name: "wrong key", token: sign(jwt.SigningMethodHS256, []byte("another-key-another-key-another!!"), valid()), wantErr: ErrTokenInvalid},
		{name: "expired", token: func() string {
			c := valid()
			c.IssuedAt = jwt.NewNumericDate(now.Add(-time.Hour))
			c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Minute))
			return sign(jwt.SigningMethodHS256, testKey, c)
		}(), wantErr: ErrTokenExpired},
		{name: "not yet valid", token: func() string {
			c := valid()
			c.NotBefore = jwt.NewNumericDate(now.Add(time.Hour))
			return sign(jwt.SigningMethodHS256, testKey, c)
		}(), wantErr: ErrTokenInvalid},
		{name: "issued in the future", token: func() string {
			c := valid()
			c.IssuedAt = jwt.NewNumericDate(now.Add(time.Hour))
			c.ExpiresAt = jwt.NewNumericDate(now.Add(2 * time.Hour))
			return sign(jwt.SigningMethodHS256, testKey, c)
		}(), wantErr: ErrTokenInvalid},
		{name: "no exp", token: func() string {
			c := valid()
			c.ExpiresAt = nil
			return sign(jwt.SigningMethodHS256, testKey, c)
		}(), wantErr: ErrTokenInvalid},
		{name: "no jti", token: func() string {
			c := valid()
			c.ID = ""
			return sign(jwt.SigningMethodHS256, testKey, c)
		}(), wantErr: ErrTokenInvalid},
		{name: "wrong issuer", token: func() string {
			c := valid()
			c.Issuer = "someone-else"
			return sign(jwt.SigningMethodHS256, testKey, c)
		}(), wantErr: ErrTokenInvalid},
		{name: "tampered payload", token: func() string {
			parts := strings.Split(good, ".")
			payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
			payload = []byte(strings.Replace(string(payload), `"agent"`, `"admin"`, 1))
			parts[1] = base64.RawURLEncoding.EncodeToString(payload)
			return strings.Join(parts, ".")
		}(), wantErr: ErrTokenInvalid},
		{name: "wrong audience", token: func() string {
			c := valid()
			c.Audience = jwt.ClaimStrings{"billing-service"}
			return sign(jwt.SigningMethodHS256, testKey, c)
		}(), wantErr: ErrTokenInvalid},
		{name: "kid path traversal", token: withHeader(t, "kid", "../../../../dev/null", valid()), wantErr: ErrTokenInvalid},
		{name: "kid SQL", token: withHeader(t, "kid", "x' UNION SELECT 'key", valid()), wantErr: ErrTokenInvalid},
		{name: "jku", token: withHeader(t, "jku", "http://127.0.0.1:1/jwks.json", valid()), wantErr: ErrTokenInvalid},
		{name: "x5u", token: withHeader(t, "x5u", "http://127.0.0.1:1/cert.pem", valid()), wantErr: ErrTokenInvalid},
		{name: "crit", token: withHeader(t, "crit", []string{"exp"}, valid()), wantErr: ErrTokenInvalid},
		{name: "typ refresh", token: withHeader(t, "typ", "refresh+jwt", valid()), wantErr: ErrTokenInvalid},
		{name: "typ jwt lower case", token: withHeader(t, "typ", "jwt", valid())},
		{name: "garbage", token: "not.a.jwt", wantErr: ErrTokenInvalid},
		{name: "empty", token: "", wantErr: ErrTokenInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := is.VerifyAccess(tc.token)
			if tc.wantErr == nil && tc.token != good {
				require.NoError(t, err)
				require.Equal(t, "u", c.Subject)
				return
			}
			if tc.wantErr == nil {
				require.NoError(t, err)
				require.Equal(t, jwt.ClaimStrings{audience}, c.Audience)
				require.Equal(t, claims.ID, c.ID)
				require.Equal(t, "user-1", c.Subject)
				require.Equal(t, "agent", c.Role)
				require.Equal(t, "fam", c.FamilyID)
				require.Equal(t, int64(3), c.TokenVersion, "the token version round-trips")
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
		})
	}
}

// withHeader signs c with the test key (HS256) under a header carrying
// name: value.
func withHeader(t *testing.T, name string, value any, c jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	tok.Header[name] = value
	s, err := tok.SignedString(testKey)
	require.NoError(t, err)
	return s
}

func TestRefreshTokens(t *testing.T) {
	is := NewIssuer(testKey, testRefreshKey, time.Minute, nil)
	fid := RandomID()
	tok := is.NewRefreshToken(fid)
	got, err := ParseRefreshToken(tok)
	require.NoError(t, err)
	require.Equal(t, fid, got)
	require.NotEqual(t, tok, is.NewRefreshToken(fid), "tokens are random")
	require.Equal(t, is.HashRefreshToken(tok), is.HashRefreshToken(tok))
	other := NewIssuer(testKey, []byte("another-refresh-key-another-key!!"), time.Minute, nil)
	require.NotEqual(t, is.HashRefreshToken(tok), other.HashRefreshToken(tok), "hash is keyed")

	for _, bad := range []string{"", ".", fid, fid + ".", "zz" + fid[2:] + "." + strings.Repeat("a", 43), fid + "." + strings.Repeat("!", 43)} {
		_, err := ParseRefreshToken(bad)
		require.ErrorIs(t, err, ErrTokenInvalid, bad)
	}
}

func TestPassword(t *testing.T) {
	h := HashPassword("correct horse battery")
	require.True(t, strings.HasPrefix(h, "$argon2id$v=19$"))
	ok, err := VerifyPassword(h, "correct horse battery")
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = VerifyPassword(h, "correct horse batterz")
	require.NoError(t, err)
	require.False(t, ok)
	h2 := HashPassword("correct horse battery")
	require.NotEqual(t, h, h2, "salted")
	_, err = VerifyPassword("$2a$12$bcrypt", "x")
	require.ErrorIs(t, err, ErrMalformedHash)
}

// FuzzVerifyAccess feeds arbitrary strings to the verifier: it must never
// panic and never accept a token it did not sign.
func FuzzVerifyAccess(f *testing.F) {
	is := NewIssuer(testKey, testRefreshKey, time.Minute, nil)
	good, _, _ := is.IssueAccess("u", "admin", "f", 0)
	f.Add(good)
	f.Add("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1In0.")
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := is.VerifyAccess(token)
		if err != nil {
			return
		}
		// Only a token signed with our key may verify: recompute the HS256
		// signature over header.payload and compare.
		parts := strings.Split(token, ".")
		if len(parts) != 3 {
			t.Fatalf("accepted token without three parts: %q", token)
		}
		sig, err := jwt.SigningMethodHS256.Sign(parts[0]+"."+parts[1], testKey)
		if err != nil || base64.RawURLEncoding.EncodeToString(sig) != parts[2] {
			t.Fatalf("accepted token not signed by us: %q", token)
		}
		if c.Subject == "" || c.ID == "" {
			t.Fatalf("accepted token without sub or jti: %q", token)
		}
	})
}

// FuzzParseRefreshToken: never panics; accepted tokens have a hex family id.
func FuzzParseRefreshToken(f *testing.F) {
	is := NewIssuer(testKey, testRefreshKey, time.Minute, nil)
	f.Add(is.NewRefreshToken(RandomID()))
	f.Add("x.y")
	f.Fuzz(func(t *testing.T, token string) {
		fid, err := ParseRefreshToken(token)
		if err == nil && (len(fid) != 32 || !isHex(fid)) {
			t.Fatalf("accepted bad family id %q", fid)
		}
	})
}
