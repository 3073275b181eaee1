// Package samples builds small, real, header-correct media files in memory:
// the images, stickers, documents, videos and voice notes WhatsApp trades,
// and the hostile files an upload must refuse (HTML posing as an image, an
// SVG with a script, an executable, a bare ZIP posing as a document, a
// JPEG/ZIP polyglot, an OGG-Vorbis voice note).
//
// It is a normal package, not a test helper: the sandbox generates inbound
// media with it at runtime, and the tests and the bench upload what it
// builds. Every builder is deterministic (the same call returns the same
// bytes) and safe for concurrent use; each returns a fresh slice the caller
// may keep or change.
//
// The files are meant to pass a type detector (github.com/gabriel-vasile/
// mimetype) and the structural checks of gateway/media: PNG and JPEG come
// from the standard encoders; WebP (static VP8L, animated VP8X + ANIM +
// ANMF) is assembled chunk by chunk; PDF has a correct cross-reference
// table; DOCX, XLSX and PPTX are ZIPs with [Content_Types].xml, _rels/.rels
// and their main part; MP4, M4A and 3GP are ISO BMFF files with ftyp first,
// then moov and mdat; OGG pages carry correct CRCs. The *OfSize builders pad
// a file to an exact length with a metadata chunk or comment the format
// defines, for size-limit tests and the bench.
package samples
