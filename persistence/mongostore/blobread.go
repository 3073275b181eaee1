package mongostore

import (
	"context"
	"errors"
	"fmt"
	"io"

	"go.mongodb.org/mongo-driver/v2/mongo"
)

// blobReader reads a GridFS file and seeks in it. The driver's download
// stream cannot seek, and the content route serves HTTP ranges with
// http.ServeContent, which seeks to the end for the size and then to the
// range's start; so the reader addresses chunks itself: byte p is in chunk
// p / chunkSize. It keeps a window of consecutive chunks (about readAhead
// bytes, readAheadBytes in production) fetched with one query, moves it forward as reads go on,
// and refetches when a seek leaves it. Each fetch is bounded by opTimeout;
// a chunk that is missing or of the wrong length is an error, never a short
// or padded read. Not safe for concurrent use (one reader per request).
type blobReader struct {
	chunks    *mongo.Collection
	file      fileDoc
	readAhead int64
	pos       int64
	// win holds the chunks [winFirst, winFirst+len(win)).
	win      [][]byte
	winFirst int64
	closed   bool
}

func (r *blobReader) Size() int64 { return r.file.Length }

func (r *blobReader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, errors.New("read media bytes: reader closed")
	}
	if r.pos >= r.file.Length {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	cs := int64(r.file.ChunkSize)
	n := r.pos / cs
	if n < r.winFirst || n >= r.winFirst+int64(len(r.win)) {
		if err := r.fetch(n); err != nil {
			return 0, err
		}
	}
	chunk := r.win[n-r.winFirst]
	k := copy(p, chunk[r.pos-n*cs:])
	r.pos += int64(k)
	return k, nil
}

// fetch loads the window starting at chunk n.
func (r *blobReader) fetch(n int64) error {
	cs := int64(r.file.ChunkSize)
	last := (r.file.Length - 1) / cs // the file's last chunk
	count := min(max(1, r.readAhead/cs), last-n+1)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	docs, err := findChunks(ctx, r.chunks, r.file.ID, int32(n), int32(n+count))
	if err != nil {
		return classify(fmt.Sprintf("read media bytes %s: chunk %d", r.file.Filename, n), err)
	}
	win := make([][]byte, 0, count)
	for i, d := range docs {
		want := min(cs, r.file.Length-(n+int64(i))*cs)
		if int64(d.N) != n+int64(i) || int64(len(d.Data)) != want {
			return fmt.Errorf("read media bytes %s: chunk %d is #%d of %d bytes, want #%d of %d bytes: %w",
				r.file.Filename, n+int64(i), d.N, len(d.Data), n+int64(i), want, io.ErrUnexpectedEOF)
		}
		win = append(win, d.Data)
	}
	if int64(len(win)) < count {
		return fmt.Errorf("read media bytes %s: chunk %d missing: %w", r.file.Filename, n+int64(len(win)), io.ErrUnexpectedEOF)
	}
	r.win, r.winFirst = win, n
	return nil
}

func (r *blobReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.pos + offset
	case io.SeekEnd:
		abs = r.file.Length + offset
	default:
		return r.pos, fmt.Errorf("seek media bytes %s: invalid whence %d", r.file.Filename, whence)
	}
	if abs < 0 {
		return r.pos, fmt.Errorf("seek media bytes %s: negative position %d", r.file.Filename, abs)
	}
	r.pos = abs
	return abs, nil
}

// Close drops the window; reading after Close is an error.
func (r *blobReader) Close() error {
	r.closed, r.win = true, nil
	return nil
}
