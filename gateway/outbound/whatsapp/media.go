package whatsapp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
)

// DefaultMediaHosts are the hosts (and their subdomains) besides BaseURL's
// that Download sends the access token to: Meta's media hosts.
var DefaultMediaHosts = []string{"fbsbx.com", "facebook.com", "whatsapp.net"}

var (
	// ErrNoMediaID means the Cloud API answered an upload 2xx without an
	// id. Classify answers Retry: uploading again costs only a second copy
	// at Meta.
	ErrNoMediaID = errors.New("whatsapp upload response without media id")
	// ErrMediaURLHost means a media URL names a host Download does not send
	// the access token to (see ClientOptions.MediaHosts).
	ErrMediaURLHost = errors.New("whatsapp media url on an untrusted host")
	// ErrMediaTooLarge means a download is larger than the caller's bound.
	ErrMediaTooLarge = errors.New("whatsapp media larger than allowed")
	// ErrMediaDigest means the downloaded bytes do not have the expected
	// length or SHA-256.
	ErrMediaDigest = errors.New("whatsapp media digest mismatch")
)

// MediaInfo is the Cloud API's answer to GET /{media_id}: a download URL
// valid for a few minutes, and the medium's type, digest and size.
type MediaInfo struct {
	ID       string `json:"id"`
	URL      string `json:"url"`
	MimeType string `json:"mime_type"`
	// SHA256 is the lower-case hex digest of the bytes.
	SHA256   string `json:"sha256"`
	FileSize int64  `json:"file_size"`
}

// UploadMedia uploads a file to {BaseURL}/{Version}/{phoneNumberID}/media
// as Meta's media endpoint takes it (multipart/form-data:
// messaging_product=whatsapp, type, and file with its filename and type) and
// returns the media id Meta gave it. The file's size bytes are streamed from
// r, never held whole; the request carries their exact Content-Length, and
// a reader yielding another length fails it. One call is one request,
// never retried.
//
// Errors: a non-2xx answer is an *APIError; no answer wraps ErrTransport; a
// 2xx answer without an id wraps ErrNoMediaID. Pass them to Classify.
func (c *Client) UploadMedia(ctx context.Context, phoneNumberID, mimeType, filename string, size int64, r io.Reader) (string, error) {
	if phoneNumberID == "" {
		return "", errors.New("upload media: empty phone number id")
	}
	if mimeType == "" || size <= 0 {
		return "", fmt.Errorf("upload media from %s: a type and a positive size are required", phoneNumberID)
	}
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	_ = mw.WriteField("messaging_product", "whatsapp")
	_ = mw.WriteField("type", mimeType)
	part := textproto.MIMEHeader{}
	part.Set("Content-Disposition", `form-data; name="file"; filename="`+quoteFilename(filename)+`"`)
	part.Set("Content-Type", mimeType)
	if _, err := mw.CreatePart(part); err != nil {
		return "", fmt.Errorf("upload media from %s: build body: %w", phoneNumberID, err)
	}
	tail := "\r\n--" + mw.Boundary() + "--\r\n"
	body := io.MultiReader(bytes.NewReader(head.Bytes()), io.LimitReader(r, size), strings.NewReader(tail))

	endpoint := c.base + "/" + url.PathEscape(phoneNumberID) + "/media"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, body)
	if err != nil {
		return "", fmt.Errorf("upload media from %s: build request: %w", phoneNumberID, err)
	}
	req.ContentLength = int64(head.Len()) + size + int64(len(tail))
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "application/json")

	raw, status, err := c.do(c.mediac, req)
	if err != nil {
		return "", fmt.Errorf("upload media from %s: %w", phoneNumberID, err)
	}
	if status < 200 || status > 299 {
		return "", fmt.Errorf("upload media from %s: %w", phoneNumberID, decodeAPIError(status, raw))
	}
	var ok struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(raw, &ok) != nil || ok.ID == "" {
		return "", fmt.Errorf("upload media from %s: http %d: %w", phoneNumberID, status, ErrNoMediaID)
	}
	return ok.ID, nil
}

// quoteFilename makes a display name safe inside a quoted
// Content-Disposition parameter.
func quoteFilename(name string) string {
	if name == "" {
		return "file"
	}
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r == 0x7f {
			return '_'
		}
		return r
	}, name)
}

// MediaURL asks {BaseURL}/{Version}/{mediaID} for a medium's download URL,
// type, digest and size. No phone_number_id is sent: Meta refuses it for a
// customer's medium. Errors: an *APIError (code 100, subcode 33 when the id
// is unknown or expired), ErrTransport, or a decode error for a 2xx answer
// without a URL.
func (c *Client) MediaURL(ctx context.Context, mediaID string) (MediaInfo, error) {
	if mediaID == "" || strings.ContainsAny(mediaID, "/?#") {
		return MediaInfo{}, fmt.Errorf("media url: bad media id %q", mediaID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/"+url.PathEscape(mediaID), nil)
	if err != nil {
		return MediaInfo{}, fmt.Errorf("media url of %s: build request: %w", mediaID, err)
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Accept", "application/json")
	raw, status, err := c.do(c.httpc, req)
	if err != nil {
		return MediaInfo{}, fmt.Errorf("media url of %s: %w", mediaID, err)
	}
	if status < 200 || status > 299 {
		return MediaInfo{}, fmt.Errorf("media url of %s: %w", mediaID, decodeAPIError(status, raw))
	}
	var info MediaInfo
	if err := json.Unmarshal(raw, &info); err != nil || info.URL == "" {
		return MediaInfo{}, fmt.Errorf("media url of %s: http %d: answer without a url", mediaID, status)
	}
	info.SHA256 = strings.ToLower(info.SHA256)
	return info, nil
}

// do sends req and reads at most maxResponseBytes of the answer; the error
// wraps ErrTransport when no answer came.
func (c *Client) do(httpc *http.Client, req *http.Request) ([]byte, int, error) {
	resp, err := httpc.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrTransport, unwrapURLError(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("http %d: %w: read body: %w", resp.StatusCode, ErrTransport, err)
	}
	return raw, resp.StatusCode, nil
}

// Expect is what Download checks of the bytes.
type Expect struct {
	// MaxBytes bounds the download: reading past it fails with
	// ErrMediaTooLarge. Required.
	MaxBytes int64
	// Size, when positive, is the exact length; SHA256, when set, the
	// lower-case hex digest. A stream that ends otherwise fails with
	// ErrMediaDigest at its end.
	Size   int64
	SHA256 string
}

// Download GETs a media URL (from MediaURL) with the access token and
// returns the bytes as a stream, which the caller must Close. The stream is
// checked as it is read: it fails with ErrMediaTooLarge past
// want.MaxBytes and, at its end, with ErrMediaDigest when the length or
// digest is not the expected one, so a caller that stores what it reads
// (MediaBlobs.Put) keeps nothing of bad bytes. A Content-Length beyond
// MaxBytes fails at once.
//
// The token goes only to BaseURL's host and the media hosts (subdomains
// included), over https unless BaseURL is http; another URL fails with
// ErrMediaURLHost. Errors: an *APIError for a non-2xx answer (404 once the
// URL expired: ask MediaURL again), ErrTransport when no answer came.
func (c *Client) Download(ctx context.Context, mediaURL string, want Expect) (io.ReadCloser, error) {
	if want.MaxBytes <= 0 {
		return nil, errors.New("download media: MaxBytes is required")
	}
	u, err := url.Parse(mediaURL)
	if err != nil || !c.trustedMediaURL(u) {
		return nil, fmt.Errorf("download media: %w: %s", ErrMediaURLHost, hostOf(u))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("download media from %s: build request: %w", u.Host, err)
	}
	req.Header.Set("Authorization", c.auth)
	resp, err := c.mediac.Do(req)
	if err != nil {
		return nil, fmt.Errorf("download media from %s: %w: %w", u.Host, ErrTransport, unwrapURLError(err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
		_ = resp.Body.Close()
		return nil, fmt.Errorf("download media from %s: %w", u.Host, decodeAPIError(resp.StatusCode, raw))
	}
	if resp.ContentLength > want.MaxBytes {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("download media from %s: %w: %d bytes, the limit is %d", u.Host, ErrMediaTooLarge, resp.ContentLength, want.MaxBytes)
	}
	return &checkedBody{body: resp.Body, want: want, sum: sha256.New(), host: u.Host}, nil
}

// trustedMediaURL reports whether the token may go to u.
func (c *Client) trustedMediaURL(u *url.URL) bool {
	if u.Host == "" || u.User != nil {
		return false
	}
	if u.Scheme != "https" && (u.Scheme != "http" || c.baseURL.Scheme != "http") {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if strings.EqualFold(u.Host, c.baseURL.Host) {
		return true
	}
	for _, h := range c.mediaHosts {
		if host == h || strings.HasSuffix(host, "."+h) {
			return true
		}
	}
	return false
}

func hostOf(u *url.URL) string {
	if u == nil {
		return "(unparsable url)"
	}
	return u.Host
}

// checkedBody is a download's body that counts, bounds and hashes what is
// read, and fails at the end when the bytes are not the expected ones.
type checkedBody struct {
	body io.ReadCloser
	want Expect
	sum  hash.Hash
	n    int64
	host string
	err  error // sticky
}

func (b *checkedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	// Read one byte past the bound to tell "exactly MaxBytes" from more.
	if room := b.want.MaxBytes + 1 - b.n; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := b.body.Read(p)
	b.n += int64(n)
	b.sum.Write(p[:n])
	if b.n > b.want.MaxBytes {
		b.err = fmt.Errorf("download media from %s: %w: more than %d bytes", b.host, ErrMediaTooLarge, b.want.MaxBytes)
		return 0, b.err
	}
	switch {
	case errors.Is(err, io.EOF):
		if e := b.verify(); e != nil {
			b.err = e
			return n, e
		}
		b.err = io.EOF
	case err != nil:
		b.err = fmt.Errorf("download media from %s: %w: %w", b.host, ErrTransport, unwrapURLError(err))
		return n, b.err
	}
	return n, err
}

func (b *checkedBody) verify() error {
	if b.want.Size > 0 && b.n != b.want.Size {
		return fmt.Errorf("download media from %s: %w: %d bytes, expected %d", b.host, ErrMediaDigest, b.n, b.want.Size)
	}
	if got := hex.EncodeToString(b.sum.Sum(nil)); b.want.SHA256 != "" && got != strings.ToLower(b.want.SHA256) {
		return fmt.Errorf("download media from %s: %w: sha256 %s, expected %s", b.host, ErrMediaDigest, got, b.want.SHA256)
	}
	return nil
}

func (b *checkedBody) Close() error { return b.body.Close() }
