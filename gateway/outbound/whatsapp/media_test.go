package whatsapp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/gateway/sandbox/cloudapi"
)

const mediaPhoneID = "1122334455667"

// sandboxClock is a settable clock for the sandbox.
type sandboxClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *sandboxClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *sandboxClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// mediaSandbox serves a sandbox (with a webhook receiver, so inbound media
// can be simulated) and returns it with a client of it.
func mediaSandbox(t *testing.T, opts cloudapi.Options) (*cloudapi.Sandbox, *httptest.Server, *Client) {
	t.Helper()
	engine := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	t.Cleanup(engine.Close)
	opts.WebhookURL = engine.URL
	if opts.TimeoutHold == 0 {
		opts.TimeoutHold = 5 * time.Second
	}
	sb := cloudapi.New(opts)
	srv := httptest.NewServer(sb.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sb.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done)
		srv.Close()
	})
	client := NewClient(ClientOptions{BaseURL: srv.URL, Version: "v21.0", AccessToken: "test-token",
		HTTPClient: &http.Client{Timeout: 500 * time.Millisecond}})
	return sb, srv, client
}

// simulateInbound posts a customer's medium to the sandbox and returns its
// media id and the webhook's sha256 (base64).
func simulateInbound(t *testing.T, srv *httptest.Server, fields string) string {
	t.Helper()
	body := `{"from":"919876500111","phoneNumberId":"` + mediaPhoneID + `"` + fields + `}`
	resp, err := http.Post(srv.URL+"/sandbox/whatsapp/inbound", "application/json", bytes.NewReader([]byte(body)))
	require.NoError(t, err)
	defer resp.Body.Close()
	var got struct {
		Data struct {
			MediaIDs []string `json:"mediaIds"`
		} `json:"data"`
	}
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	require.Len(t, got.Data.MediaIDs, 1)
	return got.Data.MediaIDs[0]
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestMediaRoundTripThroughSandbox: an upload streams the file to the
// sandbox, which serves the same bytes back through MediaURL and Download.
func TestMediaRoundTripThroughSandbox(t *testing.T) {
	sb, _, client := mediaSandbox(t, cloudapi.Options{})
	file := bytes.Repeat([]byte("\x89PNG engine pixels "), 4000)
	sum := sha256.Sum256(file)
	src := &countingReader{r: io.MultiReader(bytes.NewReader(file), bytes.NewReader([]byte("bytes past the size are never read")))}

	id, err := client.UploadMedia(t.Context(), mediaPhoneID, "image/png", `receipt "1".png`, int64(len(file)), src)
	require.NoError(t, err)
	assert.Equal(t, int64(len(file)), src.n, "exactly size bytes were read from the source")
	st, ok := sb.Media(id)
	require.True(t, ok)
	assert.Equal(t, file, st.Data)
	assert.Equal(t, "image/png", st.MimeType)
	assert.Equal(t, mediaPhoneID, st.PhoneNumberID)

	info, err := client.MediaURL(t.Context(), id)
	require.NoError(t, err)
	assert.Equal(t, id, info.ID)
	assert.Equal(t, "image/png", info.MimeType)
	assert.Equal(t, hex.EncodeToString(sum[:]), info.SHA256)
	assert.Equal(t, int64(len(file)), info.FileSize)

	body, err := client.Download(t.Context(), info.URL, Expect{MaxBytes: 1 << 20, Size: info.FileSize, SHA256: info.SHA256})
	require.NoError(t, err)
	got, err := io.ReadAll(body)
	require.NoError(t, err)
	require.NoError(t, body.Close())
	assert.Equal(t, file, got)
}

// TestMediaErrorsAreClassified: every way the media endpoints fail maps to
// the sender's retry classes (or, for Download's own checks, to its
// sentinels).
func TestMediaErrorsAreClassified(t *testing.T) {
	clock := &sandboxClock{now: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)}
	sb, srv, client := mediaSandbox(t, cloudapi.Options{Now: clock.Now, TimeoutHold: 3 * time.Second})
	data := []byte("%PDF-1.4 invoice 42")
	sum := sha256.Sum256(data)
	doc := `,"type":"document","document":{"filename":"i.pdf","data":"` + base64.StdEncoding.EncodeToString(data) + `"}`
	expect := Expect{MaxBytes: 1 << 20, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}

	// download reads the whole medium; it returns the error of the call or
	// of the stream.
	download := func(c *Client, mediaURL string, want Expect) error {
		body, err := c.Download(t.Context(), mediaURL, want)
		if err != nil {
			return err
		}
		defer body.Close()
		_, err = io.Copy(io.Discard, body)
		return err
	}

	t.Run("upload refused by Meta fails", func(t *testing.T) {
		_, err := client.UploadMedia(t.Context(), mediaPhoneID, "application/zip", "a.zip", 4, bytes.NewReader([]byte("PK\x03\x04")))
		ae, ok := errors.AsType[*APIError](err)
		require.True(t, ok, "%v", err)
		assert.Equal(t, 100, ae.Code)
		assert.Equal(t, Fail, Classify(err).Action)
	})
	t.Run("upload with an expired token pauses the number", func(t *testing.T) {
		c := NewClient(ClientOptions{BaseURL: srv.URL, AccessToken: "expired"})
		_, err := c.UploadMedia(t.Context(), mediaPhoneID, "image/png", "a.png", 4, bytes.NewReader([]byte("\x89PNG")))
		assert.Equal(t, PauseNumber, Classify(err).Action, "%v", err)
	})
	t.Run("a source shorter than its size fails the request unsent", func(t *testing.T) {
		_, err := client.UploadMedia(t.Context(), mediaPhoneID, "image/png", "a.png", 100, bytes.NewReader([]byte("\x89PNG")))
		require.ErrorIs(t, err, ErrTransport)
		assert.Equal(t, Retry, Classify(err).Action)
	})
	t.Run("unknown media id fails", func(t *testing.T) {
		_, err := client.MediaURL(t.Context(), "1234567890")
		ae, ok := errors.AsType[*APIError](err)
		require.True(t, ok, "%v", err)
		assert.Equal(t, 100, ae.Code)
		assert.Equal(t, 33, ae.Subcode)
		assert.Equal(t, Fail, Classify(err).Action)
	})

	cases := []struct {
		name   string
		fault  cloudapi.DownloadFault
		expect func(Expect) Expect // default: the medium's own
		check  func(t *testing.T, err error)
	}{
		{name: "server error retries", fault: cloudapi.DownloadServerError, check: func(t *testing.T, err error) {
			ae, ok := errors.AsType[*APIError](err)
			require.True(t, ok, "%v", err)
			assert.Equal(t, http.StatusServiceUnavailable, ae.HTTPStatus)
			assert.Equal(t, Retry, Classify(err).Action)
		}},
		{name: "timeout retries", fault: cloudapi.DownloadTimeout, check: func(t *testing.T, err error) {
			require.ErrorIs(t, err, ErrTransport)
			assert.Equal(t, Retry, Classify(err).Action)
		}},
		{name: "not found is a 404", fault: cloudapi.DownloadNotFound, check: func(t *testing.T, err error) {
			ae, ok := errors.AsType[*APIError](err)
			require.True(t, ok, "%v", err)
			assert.Equal(t, http.StatusNotFound, ae.HTTPStatus)
		}},
		{name: "corrupt bytes fail the digest", fault: cloudapi.DownloadCorrupt, check: func(t *testing.T, err error) {
			assert.ErrorIs(t, err, ErrMediaDigest)
		}},
		{name: "another expected digest", expect: func(e Expect) Expect { e.SHA256 = hex.EncodeToString(make([]byte, 32)); return e },
			check: func(t *testing.T, err error) { assert.ErrorIs(t, err, ErrMediaDigest) }},
		{name: "another expected size", expect: func(e Expect) Expect { e.Size++; return e },
			check: func(t *testing.T, err error) { assert.ErrorIs(t, err, ErrMediaDigest) }},
		{name: "larger than allowed", expect: func(e Expect) Expect { e.MaxBytes = 5; return e },
			check: func(t *testing.T, err error) { assert.ErrorIs(t, err, ErrMediaTooLarge) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := simulateInbound(t, srv, doc)
			if tc.fault != "" {
				require.NoError(t, sb.FailDownloads(id, 1, tc.fault))
			}
			info, err := client.MediaURL(t.Context(), id)
			require.NoError(t, err)
			want := expect
			if tc.expect != nil {
				want = tc.expect(want)
			}
			tc.check(t, download(client, info.URL, want))
			if tc.fault != "" {
				require.NoError(t, download(client, info.URL, expect), "the next download is served")
			}
		})
	}

	t.Run("an expired URL is a 404; a new one serves", func(t *testing.T) {
		id := simulateInbound(t, srv, doc)
		info, err := client.MediaURL(t.Context(), id)
		require.NoError(t, err)
		clock.add(5 * time.Minute)
		err = download(client, info.URL, expect)
		ae, ok := errors.AsType[*APIError](err)
		require.True(t, ok, "%v", err)
		assert.Equal(t, http.StatusNotFound, ae.HTTPStatus)
		info, err = client.MediaURL(t.Context(), id)
		require.NoError(t, err)
		require.NoError(t, download(client, info.URL, expect))
	})
}

// TestDownloadStreamsWithoutLength: a body without Content-Length is still
// bounded while it streams.
func TestDownloadStreamsWithoutLength(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		f := w.(http.Flusher)
		for range 100 {
			_, _ = w.Write(bytes.Repeat([]byte("x"), 1000))
			f.Flush()
		}
	}))
	t.Cleanup(srv.Close)
	c := NewClient(ClientOptions{BaseURL: srv.URL, AccessToken: "tok"})
	body, err := c.Download(t.Context(), srv.URL+"/media/1", Expect{MaxBytes: 50_000})
	require.NoError(t, err)
	n, err := io.Copy(io.Discard, body)
	require.ErrorIs(t, err, ErrMediaTooLarge)
	assert.LessOrEqual(t, n, int64(50_001))
	require.NoError(t, body.Close())

	body, err = c.Download(t.Context(), srv.URL+"/media/1", Expect{MaxBytes: 100_000})
	require.NoError(t, err)
	n, err = io.Copy(io.Discard, body)
	require.NoError(t, err, "exactly the bound is allowed")
	assert.Equal(t, int64(100_000), n)
	require.NoError(t, body.Close())
}

// TestDownloadSendsTheTokenOnlyToMediaHosts: the access token never goes to
// a host the client does not trust.
func TestDownloadSendsTheTokenOnlyToMediaHosts(t *testing.T) {
	var hits sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Store(r.Host, r.Header.Get("Authorization"))
	}))
	t.Cleanup(srv.Close)
	https := NewClient(ClientOptions{BaseURL: "https://graph.facebook.com", AccessToken: "tok"})
	local := NewClient(ClientOptions{BaseURL: srv.URL, AccessToken: "tok"})
	base, _ := url.Parse(srv.URL)
	cases := []struct {
		name    string
		client  *Client
		url     string
		trusted bool
	}{
		{name: "Meta's lookaside host", client: https, url: "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1", trusted: true},
		{name: "a facebook.com host", client: https, url: "https://graph.facebook.com/v21.0/media", trusted: true},
		{name: "plain http to Meta", client: https, url: "http://lookaside.fbsbx.com/x"},
		{name: "a look-alike host", client: https, url: "https://lookaside.fbsbx.com.evil.example/x"},
		{name: "another host", client: https, url: "https://evil.example/x"},
		{name: "credentials in the URL", client: https, url: "https://u:p@lookaside.fbsbx.com/x"},
		{name: "the base host over http (sandbox)", client: local, url: srv.URL + "/media/1", trusted: true},
		{name: "another port of the base host", client: local, url: "http://" + base.Hostname() + ":1/media/1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, err := url.Parse(tc.url)
			require.NoError(t, err)
			assert.Equal(t, tc.trusted, tc.client.trustedMediaURL(u))
			if !tc.trusted {
				_, err := tc.client.Download(t.Context(), tc.url, Expect{MaxBytes: 10})
				assert.ErrorIs(t, err, ErrMediaURLHost)
			}
		})
	}
	_, err := local.Download(t.Context(), srv.URL+"/media/1", Expect{MaxBytes: 10})
	require.NoError(t, err)
	auth, _ := hits.Load(base.Host)
	assert.Equal(t, "Bearer tok", auth)
}

// TestUploadWithoutID: a 2xx upload answer without an id is retried.
func TestUploadWithoutID(t *testing.T) {
	f := newFakeCloudAPI(t)
	f.answer(http.StatusOK, `{}`)
	_, err := f.client(ClientOptions{}).UploadMedia(t.Context(), mediaPhoneID, "image/png", "a.png", 4, bytes.NewReader([]byte("\x89PNG")))
	require.ErrorIs(t, err, ErrNoMediaID)
	assert.Equal(t, Retry, Classify(err).Action)
	req := f.recorded()[0]
	assert.Equal(t, "/v21.0/"+mediaPhoneID+"/media", req.Path)
	assert.Contains(t, req.ContentType, "multipart/form-data; boundary=")
	assert.Contains(t, string(req.Body), `name="messaging_product"`+"\r\n\r\nwhatsapp")
}
