package sealed

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// SegmentSize is how many plaintext bytes a stream seals per segment.
// Each segment is opened on its own, so a sealed blob stays seekable (HTTP
// range requests) at the cost of one 16-byte tag per segment.
const SegmentSize = 64 << 10

// Layout of a sealed stream (SealReader), the form media bytes take:
//
//	magic "\x1eSEALS" | version | key id length | key id | nonce prefix (7)
//	segment 0 | segment 1 | ... | last segment
//
// Every segment is SegmentSize plaintext bytes (the last one fewer, and
// empty only when the whole plaintext is) sealed with AES-256-GCM under
// the nonce "prefix | segment number (4, big endian) | last flag (1)" and
// the stream's AAD, so segments cannot be reordered, dropped, or cut off at
// a segment boundary without failing to open (the STREAM construction of
// Hoang, Reyhanitabar, Rogaway and Vizár).
const (
	streamMagic    = "\x1eSEALS"
	noncePrefixLen = 7
)

// IsSealedStream reports whether head, the first bytes of a blob (at least
// len("\x1eSEALS")), starts a sealed stream.
func IsSealedStream(head []byte) bool { return bytes.HasPrefix(head, []byte(streamMagic)) }

// SealReader returns a reader of the sealed stream of plain under the
// current key, bound to aad. With k nil it returns plain itself. Errors of
// plain are passed on.
func (k *Keyring) SealReader(aad []byte, plain io.Reader) io.Reader {
	if k == nil {
		return plain
	}
	cur := &k.keys[0]
	s := &sealReader{k: cur, aad: aad, src: plain, buf: make([]byte, SegmentSize+1)}
	hdr := make([]byte, 0, len(streamMagic)+2+len(cur.id)+noncePrefixLen)
	hdr = append(hdr, streamMagic...)
	hdr = append(hdr, Version, byte(len(cur.id)))
	hdr = append(hdr, cur.id...)
	if _, err := rand.Read(s.prefix[:]); err != nil {
		panic(fmt.Sprintf("sealed: crypto/rand failed: %v", err))
	}
	s.out = append(hdr, s.prefix[:]...)
	return s
}

type sealReader struct {
	k      *key
	aad    []byte
	prefix [noncePrefixLen]byte
	src    io.Reader
	// buf holds the next segment's plaintext and one byte of look-ahead
	// (have bytes are in it), which tells whether the segment is the last.
	buf  []byte
	have int
	out  []byte
	off  int
	n    uint32
	done bool
}

func (s *sealReader) Read(p []byte) (int, error) {
	for s.off == len(s.out) {
		if s.done {
			return 0, io.EOF
		}
		if err := s.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, s.out[s.off:])
	s.off += n
	return n, nil
}

// next seals the following segment into out.
func (s *sealReader) next() error {
	for s.have < len(s.buf) {
		k, err := s.src.Read(s.buf[s.have:])
		s.have += k
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	last := s.have <= SegmentSize
	seg := min(s.have, SegmentSize)
	if s.n == ^uint32(0) {
		return errors.New("sealed: stream too long")
	}
	nonce := segmentNonce(s.prefix, s.n, last)
	s.out = s.k.aead.Seal(s.out[:0], nonce[:], s.buf[:seg], s.aad)
	s.off = 0
	s.n++
	copy(s.buf, s.buf[seg:s.have])
	s.have -= seg
	s.done = last
	return nil
}

func segmentNonce(prefix [noncePrefixLen]byte, n uint32, last bool) [nonceSize]byte {
	var nonce [nonceSize]byte
	copy(nonce[:], prefix[:])
	binary.BigEndian.PutUint32(nonce[noncePrefixLen:], n)
	if last {
		nonce[nonceSize-1] = 1
	}
	return nonce
}

// StreamReader reads the plaintext of a sealed stream and seeks in it,
// opening one segment at a time. Not safe for concurrent use.
type StreamReader struct {
	k         *key
	aad       []byte
	prefix    [noncePrefixLen]byte
	r         io.ReadSeeker
	dataOff   int64
	bodySize  int64
	plainSize int64
	segs      int64
	pos       int64
	cur       int64
	plain     []byte
	cipher    []byte
}

// OpenStream reads the head of r (size bytes long) and, when it is a
// sealed stream, returns a reader of its plaintext. When it is not (bytes
// stored before encryption was turned on) it returns sealed false with r
// positioned back at its start. ErrNoKeys when k is nil and r is sealed;
// ErrUnknownKey and ErrCorrupt as Open.
func (k *Keyring) OpenStream(aad []byte, r io.ReadSeeker, size int64) (sr *StreamReader, isSealed bool, err error) {
	head := make([]byte, min(size, int64(len(streamMagic)+2+maxKeyIDLen+noncePrefixLen)))
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, false, fmt.Errorf("read head: %w", err)
	}
	if !IsSealedStream(head) {
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			return nil, false, err
		}
		return nil, false, nil
	}
	if k == nil {
		return nil, true, ErrNoKeys
	}
	b := head[len(streamMagic):]
	if len(b) < 2 || b[0] != Version {
		return nil, true, fmt.Errorf("stream header: %w", ErrCorrupt)
	}
	n := int(b[1])
	if n == 0 || n > maxKeyIDLen || len(b) < 2+n+noncePrefixLen {
		return nil, true, fmt.Errorf("stream header: %w", ErrCorrupt)
	}
	id := string(b[2 : 2+n])
	kk, ok := k.byID[id]
	if !ok {
		return nil, true, fmt.Errorf("key %q: %w", id, ErrUnknownKey)
	}
	sr = &StreamReader{k: kk, aad: aad, r: r, cur: -1}
	copy(sr.prefix[:], b[2+n:])
	sr.dataOff = int64(len(streamMagic) + 2 + n + noncePrefixLen)
	sr.bodySize = size - sr.dataOff
	const full = SegmentSize + tagSize
	sr.segs = (sr.bodySize + full - 1) / full
	lastLen := sr.bodySize - (sr.segs-1)*full
	if sr.segs == 0 || lastLen < tagSize || sr.segs > int64(^uint32(0)) {
		return nil, true, fmt.Errorf("stream of %d bytes: %w", size, ErrCorrupt)
	}
	sr.plainSize = sr.bodySize - sr.segs*tagSize
	return sr, true, nil
}

// Size is the plaintext's length.
func (s *StreamReader) Size() int64 { return s.plainSize }

func (s *StreamReader) Read(p []byte) (int, error) {
	if s.pos >= s.plainSize {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	seg := s.pos / SegmentSize
	if seg != s.cur {
		if err := s.load(seg); err != nil {
			return 0, err
		}
	}
	n := copy(p, s.plain[s.pos-seg*SegmentSize:])
	s.pos += int64(n)
	return n, nil
}

// load opens segment seg.
func (s *StreamReader) load(seg int64) error {
	const full = SegmentSize + tagSize
	off := seg * full
	n := min(full, s.bodySize-off)
	if _, err := s.r.Seek(s.dataOff+off, io.SeekStart); err != nil {
		return err
	}
	if cap(s.cipher) < int(n) {
		s.cipher = make([]byte, full)
	}
	ct := s.cipher[:n]
	if _, err := io.ReadFull(s.r, ct); err != nil {
		return fmt.Errorf("read segment %d: %w", seg, err)
	}
	nonce := segmentNonce(s.prefix, uint32(seg), seg == s.segs-1)
	plain, err := s.k.aead.Open(s.plain[:0], nonce[:], ct, s.aad)
	if err != nil {
		s.cur = -1
		return fmt.Errorf("segment %d under key %q: %w", seg, s.k.id, ErrCorrupt)
	}
	s.plain, s.cur = plain, seg
	return nil
}

// Seek moves the plaintext position.
func (s *StreamReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = s.pos + offset
	case io.SeekEnd:
		abs = s.plainSize + offset
	default:
		return s.pos, fmt.Errorf("sealed stream: invalid whence %d", whence)
	}
	if abs < 0 {
		return s.pos, fmt.Errorf("sealed stream: negative position %d", abs)
	}
	s.pos = abs
	return abs, nil
}

// Close closes the underlying reader when it is an io.Closer.
func (s *StreamReader) Close() error {
	s.plain = nil
	if c, ok := s.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// StreamKeyID is the key id of a sealed stream's head; false when head
// does not start a well-formed sealed stream.
func StreamKeyID(head []byte) (string, bool) {
	if !IsSealedStream(head) {
		return "", false
	}
	b := head[len(streamMagic):]
	if len(b) < 2 || b[0] != Version || int(b[1]) == 0 || len(b) < 2+int(b[1]) {
		return "", false
	}
	return string(b[2 : 2+int(b[1])]), true
}

// StreamHeadLen is how many head bytes StreamKeyID needs at most.
const StreamHeadLen = len(streamMagic) + 2 + maxKeyIDLen

// StreamLen is the length of the sealed stream of plain bytes under the
// current key (plain itself when k is nil).
func (k *Keyring) StreamLen(plain int64) int64 {
	if k == nil {
		return plain
	}
	segs := max(1, (plain+SegmentSize-1)/SegmentSize)
	return int64(len(streamMagic)+2+len(k.keys[0].id)+noncePrefixLen) + plain + segs*tagSize
}
