// Package media receives uploaded files and decides whether WhatsApp would
// take them: the intake behind POST /api/media/upload and bulk-upload.
//
// An Intake streams each file (a multipart part) into a spool file in its
// directory, never holding it whole in memory, hashing it with SHA-256 and
// counting its bytes as it goes. The type is decided from the bytes: the
// first 4 KB go through github.com/gabriel-vasile/mimetype, and only the
// types WhatsApp accepts pass (image/jpeg and image/png up to 5 MB;
// image/webp stickers up to 100 KB static or 500 KB animated; audio/aac,
// audio/amr, audio/mpeg, audio/mp4 and audio/ogg with Opus up to 16 MB;
// video/mp4 and video/3gpp up to 16 MB; PDF, Word, Excel, PowerPoint and
// text/plain documents up to 100 MB), each also capped by Options.MaxBytes.
// Reading stops one byte past the limit. Then structural checks go beyond
// the magic number: an Office document is a ZIP whose content types and
// package relationships name the main part of its kind (no macros, no
// executables, no paths escaping the package, no zip bomb: entries may not
// claim more than 100 times their compressed size, nor 1 GB in all); PNG and
// JPEG declare at most 16384 pixels a side and 64 Mi in all (a pixel flood is
// refused from its header; images are never decoded); MP4 and 3GP start with ftyp
// and hold one moov, whose tracks decide audio/mp4 or video/mp4; OGG pages
// have correct CRCs and carry Opus (OpusHead, OpusTags), not Vorbis; a WebP
// is a well-formed RIFF whose animation flag matches its frames; AMR, ADTS
// and MP3 frames line up; a PDF has %PDF- and %%EOF and no /JavaScript or
// /Launch name outside compressed streams; text has no NUL byte.
//
// Polyglots are refused whatever their name: markup a browser would sniff
// (HTML, SVG, script) in the first 1445 bytes, a PDF header inside a file
// that is not a PDF, and a ZIP archive appended to a file that is not a ZIP
// (an end-of-central-directory record where ZIP readers look for it). The
// detected type must agree with the filename's extension and the part's
// declared Content-Type (when declared and not application/octet-stream).
// Filenames are cleaned for display only (SanitizeFilename) and never used
// as paths; spool files have random names.
//
// Guarantees: every refusal is a *Refusal wrapping ErrUnsupported,
// ErrTooLarge or ErrEmpty, whose message names the detected type and, for
// size, the limit; on any error the spool file is gone before Receive
// returns. ReadFiles reads a whole multipart body part by part; one refused
// file does not stop the others, and a body that fails as a whole leaves
// nothing behind. NewIntake removes spool files a crash left. An Intake is
// safe for concurrent use.
package media
