// Package fsblobs keeps media bytes as files on the local filesystem,
// content-addressed by their SHA-256: the bytes of digest abcdef... are the
// file <root>/ab/cd/abcdef.... The engine's root is DATA_DIR/media. No
// name a user gave ever becomes part of a path: every operation first
// checks that the digest is 64 lower-case hex digits
// (mediabytes.ErrInvalidSHA256 otherwise).
//
// Store implements actors.MediaBlobs and mediabytes.Blobs and passes the
// contract suite in persistence/blobtest.
//
// # Guarantees
//
//   - No reader ever sees part of a file. Put writes to a temporary file
//     in the blob's own directory (".tmp-<sha>-<random>"), hashing and
//     counting on the way; only bytes of exactly the declared size and
//     digest are fsynced and renamed into place, and the directory is
//     fsynced after the rename (and the parents of directories it
//     created), so a stored blob survives a crash. Anything else returns
//     mediabytes.ErrMismatch, the reader's error or the context's, and
//     removes the temporary file.
//   - Put of a digest already stored returns at once, without reading its
//     reader: the bytes on disk were checked when they were written.
//     Concurrent Puts of one digest each write their own temporary file;
//     the renames replace one complete file by an identical one.
//   - Open returns the *os.File (seekable, so HTTP ranges are served from
//     it). A reader keeps reading to the end even when the blob is
//     deleted or hidden meanwhile.
//   - Hide renames a blob to ".hidden-<sha>-<random>" beside it in one
//     atomic step; Unhide renames it back (replacing a copy stored
//     meanwhile, which has the same bytes); Purge removes it. These serve
//     mediabytes.Release, the reference-safe deletion.
//   - A crash leaves at most temporary files and hidden blobs. Sweep, run
//     by Open, removes every temporary file no live Put holds (a Put holds
//     an exclusive flock on its file until the rename; the kernel drops it
//     with the process) and puts hidden blobs back, because the Release
//     that hid them may have died before seeing that a new record needs
//     them. Sweep is safe beside running Puts, also of other processes.
//     Where flock is missing (not unix) Sweep leaves temporary files.
//   - Safe for concurrent use; several Stores may share one root.
//   - With WithKeyring, Put seals the bytes (persistence/sealed, 64 KiB
//     AES-256-GCM segments bound to the digest) after hashing and counting
//     the plaintext: files keep the plaintext's SHA-256 as their name, so
//     identical uploads are stored once (dedupe by plaintext digest, which
//     also tells someone with the disk that two uploads are equal, or that
//     a file they hold is stored). Open returns a seekable reader of the
//     plaintext for sealed files and the *os.File for files stored before
//     encryption was on; Reencrypt rewrites both kinds under the newest key.
//
// Files are created 0600 and directories 0750: only the engine's user reads
// media.
package fsblobs
