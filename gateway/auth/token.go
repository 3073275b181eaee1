package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Verification failures callers branch on.
var (
	// ErrTokenExpired means the token was valid but its exp has passed.
	ErrTokenExpired = errors.New("token expired")
	// ErrTokenInvalid means anything else is wrong with the token.
	ErrTokenInvalid = errors.New("token invalid")
)

// issuer is the iss of every access token, and audience its aud: the
// engine's own API. A token naming another audience is refused; one without
// aud (issued before the engine set it) is accepted until it expires.
const (
	issuer   = "wacc-engine"
	audience = "wacc-engine-api"
)

// refusedHeaders are JOSE header parameters the engine never sets: a key id,
// a key or a URL to fetch one from, or critical extensions. A token carrying
// any is refused before its key is chosen, so none of them can steer the
// verifier to a file, a row or the network (RFC 8725 section 3.10).
var refusedHeaders = []string{"kid", "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256", "crit"}

// Claims are the access token's claims.
type Claims struct {
	Role     string `json:"role"`
	FamilyID string `json:"fid,omitempty"`
	// TokenVersion is the user's token version when the token was issued
	// (absent: 0); the caller refuses a token older than the user's.
	TokenVersion int64 `json:"tv,omitempty"`
	jwt.RegisteredClaims
}

// Issuer signs and verifies access tokens and hashes refresh tokens.
type Issuer struct {
	accessKey  []byte
	refreshKey []byte
	accessTTL  time.Duration
	now        func() time.Time
	parser     *jwt.Parser
	verified   verifiedTokens
}

// NewIssuer returns an Issuer. accessKey signs access tokens (HS256);
// refreshKey keys the HMAC under which refresh tokens are stored.
func NewIssuer(accessKey, refreshKey []byte, accessTTL time.Duration, now func() time.Time) *Issuer {
	if now == nil {
		now = time.Now
	}
	return &Issuer{
		accessKey:  accessKey,
		refreshKey: refreshKey,
		accessTTL:  accessTTL,
		now:        now,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithIssuer(issuer),
			jwt.WithTimeFunc(now),
			jwt.WithStrictDecoding(),
		),
	}
}

// IssueAccess signs an access token for user with role, tied to the refresh
// family fid, under the user's token version tv. It returns the token and
// its claims.
func (is *Issuer) IssueAccess(userID, role, fid string, tv int64) (string, Claims, error) {
	now := is.now().Truncate(time.Second)
	c := Claims{
		Role:         role,
		FamilyID:     fid,
		TokenVersion: tv,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Audience:  jwt.ClaimStrings{audience},
			Subject:   userID,
			ID:        RandomID(),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(is.accessTTL)),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(is.accessKey)
	if err != nil {
		return "", Claims{}, fmt.Errorf("sign access token: %w", err)
	}
	return s, c, nil
}

// VerifyAccess checks an access token and returns its claims. It returns
// ErrTokenExpired or ErrTokenInvalid (wrapped). A token is parsed and its
// signature checked once: the claims of a token that passed are
// remembered (bounded), and the same token presented again is checked
// only against the clock (exp, nbf, iat).
func (is *Issuer) VerifyAccess(token string) (Claims, error) {
	if len(token) > 4096 {
		return Claims{}, fmt.Errorf("%w: too long", ErrTokenInvalid)
	}
	now := is.now()
	if c, ok, err := is.verified.lookup(token, now); ok {
		return c, err
	}
	c, err := is.verify(token)
	if err == nil {
		is.verified.remember(token, c, now)
	}
	return c, err
}

// verify parses token and checks its signature and claims.
func (is *Issuer) verify(token string) (Claims, error) {
	var c Claims
	_, err := is.parser.ParseWithClaims(token, &c, is.key)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return Claims{}, fmt.Errorf("%w: %v", ErrTokenExpired, err)
		}
		return Claims{}, fmt.Errorf("%w: %v", ErrTokenInvalid, err)
	}
	if c.Subject == "" || c.ID == "" || c.Role == "" || c.IssuedAt == nil {
		return Claims{}, fmt.Errorf("%w: missing sub, jti, role or iat", ErrTokenInvalid)
	}
	if len(c.Audience) > 0 && !slices.Contains(c.Audience, audience) {
		return Claims{}, fmt.Errorf("%w: audience %v is not %s", ErrTokenInvalid, c.Audience, audience)
	}
	return c, nil
}

// key is the verifier's key function: the access key, for a token whose
// header names nothing the engine does not set (refusedHeaders) and whose
// typ, when present, is JWT (the engine's refresh tokens are not JWTs, so
// any other type is a token meant for something else).
func (is *Issuer) key(t *jwt.Token) (any, error) {
	for _, h := range refusedHeaders {
		if _, ok := t.Header[h]; ok {
			return nil, fmt.Errorf("header %q is not accepted", h)
		}
	}
	if typ, ok := t.Header["typ"]; ok {
		if s, _ := typ.(string); !strings.EqualFold(s, "JWT") {
			return nil, fmt.Errorf("header typ %v is not JWT", typ)
		}
	}
	return is.accessKey, nil
}

// NewRefreshToken returns a fresh refresh token for family fid.
func (is *Issuer) NewRefreshToken(fid string) string {
	secret := make([]byte, 32)
	rand.Read(secret) // never fails (Go 1.24+)
	return fid + "." + base64.RawURLEncoding.EncodeToString(secret)
}

// ParseRefreshToken returns the family id a refresh token claims. It checks
// only the shape; the store decides whether the token is current.
func ParseRefreshToken(token string) (fid string, err error) {
	fid, secret, ok := strings.Cut(token, ".")
	if !ok || len(fid) != 32 || !isHex(fid) || len(secret) != 43 {
		return "", fmt.Errorf("%w: malformed refresh token", ErrTokenInvalid)
	}
	if _, err := base64.RawURLEncoding.DecodeString(secret); err != nil {
		return "", fmt.Errorf("%w: malformed refresh token", ErrTokenInvalid)
	}
	return fid, nil
}

// HashRefreshToken returns the keyed hash under which a refresh token is
// stored: HMAC-SHA256 with the refresh key, hex encoded.
func (is *Issuer) HashRefreshToken(token string) string {
	m := hmac.New(sha256.New, is.refreshKey)
	m.Write([]byte(token))
	return hex.EncodeToString(m.Sum(nil))
}

// RandomID returns 128 random bits as 32 hex characters.
func RandomID() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
