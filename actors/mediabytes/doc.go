// Package mediabytes keeps the bytes of media and their records in step,
// so that no record is ever left without its bytes and bytes no record
// needs are removed. Media bytes are content-addressed (by SHA-256) and
// shared: two uploads of the same file are two records over one blob. The
// HTTP media routes, the inbound media fetch and anything else that creates
// or deletes media records go through Create, Save and Delete here rather
// than calling the byte store's Put and Delete themselves.
//
// # The race it settles
//
// Deleting a record removes its bytes when no other record references them
// (actors.MediaStore.CountMediaBySHA256 is 0). Done naively (delete the
// record, count, delete the bytes), an upload of the same bytes X racing the
// deletion of the last other record of X can lose: the upload finds X
// stored (so writes nothing), the deleter counts 0, the upload creates its
// record, the deleter removes X. The record store and the byte store share
// no transaction (a file system, GridFS and SQLite or MongoDB), so the
// two sides follow a protocol instead:
//
//   - Create and Save store the bytes, write the record, then store the
//     bytes again (a Put of stored bytes is one existence check).
//   - Release counts the references; at 0 it hides the bytes (Blobs.Hide:
//     one atomic rename, after which Open and Put no longer see them),
//     counts again, and purges them at 0, or puts them back (Unhide) when
//     a record appeared meanwhile or the count failed.
//
// Why no record loses its bytes: take a record R of X written by Create
// and a Release that purges X. The Release's second count did not see R, so
// R was written after the hide, and R's second Put, which follows R's
// write, ran after the hide too: it found X hidden and wrote it anew. If
// instead the second count saw R, the Release puts X back. Of two Releases
// of X only one acts: the other's Hide finds nothing (actors.ErrNotFound)
// and leaves X to it. So that X is not kept for a record deleted meanwhile
// (by that other Release, whose deletion came before its Hide and so before
// the put-back), a Release that put X back counts again and starts over.
// Undo steps (putting bytes back, removing a record whose bytes could not
// be stored) run even when the caller's context is done, bounded by
// undoTimeout.
//
// What it costs: while a Release holds X hidden, for the instant between
// its two counts, a record written meanwhile whose second Put came before
// the hide exists without visible bytes. Open (this package's) rides that
// out by trying again for about a second and a half before answering
// actors.ErrNotFound; the content route should use it.
//
// What is left after a crash: a crash between a record's deletion and its
// Release, or a Release that died after hiding, leaves bytes nobody
// references (wasted space, never a lost attachment; the filesystem
// store's Sweep puts hidden bytes back at start for the same reason).
// Nothing sweeps unreferenced blobs yet.
//
// The tests of this protocol are in persistence/blobtest (RunReferences):
// every interleaving of an upload and a deletion that breaks the naive
// order, forced step by step, and a stress race of uploads against
// deletions, on SQLite with the filesystem store and on FerretDB with
// GridFS.
package mediabytes
