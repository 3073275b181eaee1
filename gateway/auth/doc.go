// Package auth issues and verifies the engine's credentials: argon2id password
// hashes, HS256 access tokens (JWT) and opaque refresh tokens.
//
// Guarantees: access tokens are verified with HS256 only (alg "none", RSA/EC
// confusion and any other algorithm are refused), must carry sub, role, jti,
// iat and exp, and are refused before nbf/iat or after exp, with an issuer
// other than the engine, an audience other than its API, a typ other than
// JWT, or a header naming a key (kid, jku, jwk, x5u, x5c...) or crit: no
// header steers the verifier to a file, a row or the network. Refresh tokens are
// random 256-bit secrets tied to a family id; only an HMAC of a refresh token is
// ever stored. Access tokens carry the user's token version (tv), which the
// gateway compares with the stored user's. A token is parsed and its
// signature checked once: the claims of a verified token are remembered
// (bounded, keyed by the whole token), and the same token presented again
// is checked only against the clock (exp, nbf, iat); revocation is the
// caller's. Breached tells a password on the
// list of common and breached passwords embedded in the binary
// (breached.txt.gz, written by gen_breached.go from zxcvbn's list). Everything
// here is safe for concurrent use and does no I/O.
package auth
