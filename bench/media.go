package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/wacc/engine/gateway/media/samples"
)

// mediaImageSize is the size of each uploaded image.
const mediaImageSize = 1 << 20

// mediaWorkers caps the uploads in flight: 1 MB bodies, two cores.
const mediaWorkers = 16

// mediaBody is the multipart body of one upload of the i-th image: a 1 MB
// JPEG whose comment segment starts with i, so every upload is new bytes
// (the byte store keeps each digest once and would skip a repeat).
type mediaBody struct {
	head, tail []byte
	image      []byte
	ctype      string
}

func newMediaBody() (*mediaBody, error) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	if _, err := w.CreateFormFile("file", "receipt.jpg"); err != nil {
		return nil, err
	}
	head := append([]byte(nil), b.Bytes()...)
	b.Reset()
	if err := w.Close(); err != nil {
		return nil, err
	}
	return &mediaBody{head: head, tail: append([]byte(nil), b.Bytes()...), image: samples.JPEGOfSize(mediaImageSize), ctype: w.FormDataContentType()}, nil
}

// reader returns the body of upload i and its length; only the first
// bytes of the image differ between uploads, the rest is shared.
func (m *mediaBody) reader(i int64) (io.Reader, int64) {
	// SOI (2), COM marker (2) and length (2), then the comment's letters:
	// the first 16 become i in hex.
	first := append([]byte(nil), m.image[:64]...)
	copy(first[6:22], fmt.Sprintf("%016x", i))
	n := int64(len(m.head) + len(m.image) + len(m.tail))
	return io.MultiReader(bytes.NewReader(m.head), bytes.NewReader(first), bytes.NewReader(m.image[64:]), bytes.NewReader(m.tail)), n
}

// runMedia uploads 1 MB JPEGs through POST /api/media/upload (multipart
// streamed to the spool, hashed, type detected and checked, stored
// content-addressed and fsynced under DATA_DIR/media, the record written
// to SQLite, audited), then the same bodies to a bare net/http handler that
// io.Copies each body into a file.
func runMedia(ctx context.Context, env *Env, res *Result) error {
	body, err := newMediaBody()
	if err != nil {
		return fmt.Errorf("media: build the upload body: %w", err)
	}
	workers := min(env.Opts.Conns, mediaWorkers)
	g, err := env.startEngine(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = g.Stop() }()
	token, err := g.login(ctx)
	if err != nil {
		return err
	}
	upload := func(target *engine, want int) func(ctx context.Context, i int64) error {
		return func(ctx context.Context, i int64) error {
			rd, n := body.reader(i)
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.URL+"/api/media/upload", rd)
			if err != nil {
				return err
			}
			req.ContentLength = n
			req.Header.Set("Content-Type", body.ctype)
			req.Header.Set("Authorization", "Bearer "+token)
			return expect(target.Client.Do(req))(want, nil)
		}
	}
	ours := env.loadWithCPU(ctx, g, loadSpec{Name: "engine upload", Workers: workers, Rate: env.Opts.Rate, Op: upload(g, http.StatusCreated)})
	withMBps(&ours)
	res.Runs = append(res.Runs, ours)
	if err := g.Stop(); err != nil {
		res.Notes = append(res.Notes, err.Error())
	}

	dir, err := os.MkdirTemp(env.Tmp, "bare-media-")
	if err != nil {
		return fmt.Errorf("media: %w", err)
	}
	bare, stop, err := bareUploadServer(dir)
	if err != nil {
		return err
	}
	defer stop()
	bare.Client = newClient(workers)
	peer := env.load(ctx, loadSpec{Name: "bare io.Copy to file", Workers: workers, Rate: env.Opts.Rate, Op: upload(bare, http.StatusCreated)})
	withMBps(&peer)
	res.Runs = append(res.Runs, peer)

	res.Comparisons = append(res.Comparisons,
		compare("media uploads vs bare io.Copy-to-file handler (0.5× wanted)", ours.Rate/max(peer.Rate, 1), 0.5, "×", false),
	)
	res.Notes = append(res.Notes,
		fmt.Sprintf("1 MB JPEG uploads (each with new bytes), %d in flight: engine %s uploads/s = %s MB/s, bare %s uploads/s = %s MB/s; engine CPU %s µs per upload",
			workers, num(ours.Rate), num(ours.Extra["MBps"]), num(peer.Rate), num(peer.Extra["MBps"]), num(ours.EngineCPUPerOp)),
		"the engine streams each body to a spool file while hashing it (SHA-256), detects the type and runs the JPEG checks (markup in the first 1445 bytes, a ZIP directory at the end), then stores the bytes content-addressed (temporary file, fsync, rename, directory fsync), writes the record to SQLite and audits it: two writes and one fsync per upload; the bare handler only copies the body into a file (no hash, no fsync), inside the bench process beside the load generator",
	)
	return nil
}

// withMBps adds the run's throughput in MB/s (uploads of mediaImageSize).
func withMBps(r *Run) {
	if r.Extra == nil {
		r.Extra = map[string]float64{}
	}
	r.Extra["MBps"] = r.Rate * mediaImageSize / (1 << 20)
}

// bareUploadServer serves POST /api/media/upload on a free port: copy the
// body into a new file in dir, close it, answer 201.
func bareUploadServer(dir string) (*engine, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("bare upload server: %w", err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := os.CreateTemp(dir, "upload-*")
		if err != nil {
			http.Error(w, "create", http.StatusInternalServerError)
			return
		}
		_, err = io.Copy(f, r.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			http.Error(w, "copy", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return &engine{URL: "http://" + l.Addr().String()}, func() { _ = srv.Close() }, nil
}
