// Package blobtest is the contract suite every media byte store
// (actors.MediaBlobs with mediabytes.Blobs' Hide, Unhide and Purge) must
// pass: the filesystem store (persistence/fsblobs) and GridFS
// (persistence/mongostore) run it from their own tests:
//
//	func TestBlobContract(t *testing.T) {
//		blobtest.Run(t, blobtest.Harness{
//			Open:      func(t *testing.T) mediabytes.Blobs { return openTemp(t) },
//			ChunkSize: 1024,
//			Residue:   residue,
//		})
//	}
//
// Run pins down, beyond the doc comments of the interfaces: bytes come back
// exactly, through Read and through Seek from the start, the current
// position and the end, across chunk boundaries and past the end (as
// http.ServeContent uses them, and as testing/iotest.TestReader checks);
// a Put with fewer or more bytes than declared, other bytes, a negative
// size, a reader that fails mid-stream or a cancelled context fails and
// leaves nothing (no blob, no residue); a Put of stored bytes succeeds
// without reading its reader; Delete of absent bytes is a no-op; digests
// that are not 64 lower-case hex digits are mediabytes.ErrInvalidSHA256
// for Put, Open, Delete and Hide; concurrent Puts of one digest all succeed
// and leave one blob; concurrent readers seek independently; hidden bytes
// are invisible to Open and Hide, Put writes them anew, Unhide and Purge of
// a key that is gone are no-ops, and keys Hide did not make are refused.
//
// RunReferences is the suite of the reference-safe functions of
// actors/mediabytes (Create, Save, Delete, Release) on a media store and a
// byte store together, including the race of an upload of bytes X against
// the deletion of the last other record of X.
//
// The package is a normal (non-test) package so other packages' tests can
// import it; it imports testing and testify and must never be imported by
// production code.
package blobtest
