// Package app holds the use cases that the HTTP edge (gateway) and the agent
// sessions (actors/agentsession, through the socket) share: normalising and
// checking an email address, creating a user, starting a login session,
// verifying an access token, deciding which conversations and which media a
// user may see, marking a conversation read. Each lives here once, so a rule (an agent sees
// only its assigned conversations; two addresses that look alike cannot both
// register) cannot drift between the two edges. Current decides whether a
// verified token's user still accepts it (not disabled, token version not
// newer than the token's); VerifyAccess looks up the token's id, its
// family and its user's version (VersionRevocationKey) on the revocation
// list in one call.
//
// It imports no HTTP: callers map its errors to their own vocabulary (status
// codes and the contract's error codes in the gateway, error frames in the
// sessions). An agent sees the media it uploaded and those linked to a
// conversation it may see (MediaVisible); supervisors and admins see all.
// Its errors wrap the actors sentinels (actors.ErrNotFound,
// actors.ErrDuplicate, actors.ErrTokenExpired, actors.ErrTokenRevoked,
// actors.ErrTokenInvalid, actors.ErrUnavailable) and its own (ErrInvalidEmail,
// ErrMixedScript, ErrEmailTaken, ErrEmailLookalike).
//
// Email addresses are compared in their normalised form (NFKC, lower case;
// NormalizeEmail) and guarded by their skeleton (Skeleton): every character
// that looks like an ASCII letter, digit or punctuation (Cyrillic "а", Greek
// "ο", Armenian "օ", dotless "ı", the dashes) replaced by it, so that the
// unique skeleton index of the user store refuses a second address that looks
// like the first. Within one part of an address (the local part and each
// domain label, split at ".", "+", "-" and "_"), letters of two scripts are
// refused outright (the mixes of Latin with Han, Hiragana, Katakana, Hangul or
// Bopomofo that Chinese, Japanese and Korean use are allowed), as are
// invisible and format characters.
//
// cmd/engine builds one App before the agent-session hub and the gateway and
// hands it to both. An App is safe for concurrent use; it holds no state of
// its own beyond its dependencies.
package app
