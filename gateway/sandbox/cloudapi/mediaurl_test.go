package cloudapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/gateway/media/samples"
)

// simulateMedia posts a simulated inbound medium (fields after from and
// phoneNumberId) and returns its media id once the webhook arrived.
func (h *harness) simulateMedia(t *testing.T, fields string) string {
	t.Helper()
	before := len(h.rcv.messages())
	res := h.inbound(t, `{"from":"919876500777","phoneNumberId":"`+testPhoneID+`"`+fields+`}`)
	require.Equal(t, http.StatusAccepted, res.status, "inbound: %s", res.raw)
	ids, _ := res.json["data"].(map[string]any)["mediaIds"].([]any)
	require.Len(t, ids, 1, "answer: %s", res.raw)
	require.Eventually(t, func() bool { return len(h.rcv.messages()) > before }, waitFor, tick)
	return ids[0].(string)
}

// mediaURL asks GET /{media_id} with token and returns the download URL's
// path and query.
func (h *harness) mediaURL(t *testing.T, id, token string) string {
	t.Helper()
	info := h.do(t, http.MethodGet, "/v21.0/"+id, token, nil, "")
	require.Equal(t, http.StatusOK, info.status, "media info: %s", info.raw)
	u, _ := info.json["url"].(string)
	require.True(t, strings.HasPrefix(u, h.srv.URL+"/media/"+id+"?"), "url %q", u)
	return strings.TrimPrefix(u, h.srv.URL)
}

// testMediaURLs: a download URL serves the bytes only to the token that
// retrieved it, only until its expiry (Meta's five minutes, or
// Options.MediaURLLife), and a new lookup gives a fresh one.
func testMediaURLs(t *testing.T) {
	clock := &fakeClock{}
	start := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	clock.Set(start)
	h := newHarness(t, Options{Now: clock.Now}, false)
	data := []byte("\x89PNG\r\n\x1a\n pixels")
	id := h.simulateMedia(t, `,"type":"image","image":{"mime_type":"image/png","data":"`+base64.StdEncoding.EncodeToString(data)+`"}`)
	path := h.mediaURL(t, id, testToken)

	u, err := url.Parse(path)
	require.NoError(t, err)
	assert.Equal(t, "1740823500", u.Query().Get("ext"), "expires five minutes after the lookup")

	cases := []struct {
		name       string
		path       string
		token      string
		at         time.Duration // clock after start
		wantStatus int
		wantCode   float64 // Graph error code; 0 for the bytes
	}{
		{name: "the same token gets the bytes", path: path, token: testToken, wantStatus: http.StatusOK},
		{name: "no token", path: path, wantStatus: http.StatusUnauthorized, wantCode: CodeAccessToken},
		{name: "another token", path: path, token: "other-token", wantStatus: http.StatusUnauthorized, wantCode: CodeAccessToken},
		{name: "expired token", path: path, token: "expired", wantStatus: http.StatusUnauthorized, wantCode: CodeAccessToken},
		{name: "expiry altered", path: strings.Replace(path, "ext=1740823500", "ext=1740829999", 1), token: testToken,
			wantStatus: http.StatusUnauthorized, wantCode: CodeAccessToken},
		{name: "no hash", path: "/media/" + id + "?ext=1740823500", token: testToken, wantStatus: http.StatusNotFound, wantCode: CodeInvalidParameter},
		{name: "no expiry", path: "/media/" + id, token: testToken, wantStatus: http.StatusNotFound, wantCode: CodeInvalidParameter},
		{name: "a second before expiry", path: path, token: testToken, at: 5*time.Minute - time.Second, wantStatus: http.StatusOK},
		{name: "at expiry", path: path, token: testToken, at: 5 * time.Minute, wantStatus: http.StatusNotFound, wantCode: CodeInvalidParameter},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock.Set(start.Add(tc.at))
			res := h.do(t, http.MethodGet, tc.path, tc.token, nil, "")
			require.Equal(t, tc.wantStatus, res.status, "answer: %s", res.raw)
			if tc.wantCode == 0 {
				assert.Equal(t, data, res.raw)
				return
			}
			assert.Equal(t, tc.wantCode, res.errorObject(t)["code"])
		})
	}

	t.Run("a new lookup after expiry gives a URL that serves", func(t *testing.T) {
		clock.Set(start.Add(10 * time.Minute))
		fresh := h.mediaURL(t, id, testToken)
		assert.NotEqual(t, path, fresh)
		res := h.do(t, http.MethodGet, fresh, testToken, nil, "")
		require.Equal(t, http.StatusOK, res.status)
		assert.Equal(t, data, res.raw)
	})

	t.Run("MediaURLLife shortens the expiry", func(t *testing.T) {
		h := newHarness(t, Options{Now: clock.Now, MediaURLLife: time.Second}, false)
		clock.Set(start)
		id := h.simulateMedia(t, `,"type":"document","document":{"filename":"a.pdf"}`)
		path := h.mediaURL(t, id, testToken)
		assert.Equal(t, http.StatusOK, h.do(t, http.MethodGet, path, testToken, nil, "").status)
		clock.Set(start.Add(time.Second))
		assert.Equal(t, http.StatusNotFound, h.do(t, http.MethodGet, path, testToken, nil, "").status)
	})
}

// testMediaIDLife: a customer's media id is known for 7 days
// (InboundMediaLife), an upload's for 30 (UploadedMediaLife); then GET
// /{media_id} answers as for an id that never existed, and a URL handed
// out before serves no more.
func testMediaIDLife(t *testing.T) {
	clock := &fakeClock{}
	start := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	clock.Set(start)
	h := newHarness(t, Options{Now: clock.Now, MediaURLLife: 10 * 24 * time.Hour}, false)
	inbound := h.simulateMedia(t, `,"type":"audio","audio":{"voice":true}`)
	up := h.upload(t, "whatsapp", "text/plain", "", []byte("a note"))
	require.Equal(t, http.StatusOK, up.status, "answer: %s", up.raw)
	uploaded := up.json["id"].(string)
	inboundURL := h.mediaURL(t, inbound, testToken)

	gone := func(t *testing.T, id string) {
		t.Helper()
		res := h.do(t, http.MethodGet, "/v21.0/"+id, testToken, nil, "")
		require.Equal(t, http.StatusBadRequest, res.status, "answer: %s", res.raw)
		e := res.errorObject(t)
		assert.Equal(t, float64(CodeInvalidParameter), e["code"])
		assert.Equal(t, float64(33), e["error_subcode"])
	}
	clock.Set(start.Add(7*24*time.Hour - time.Second))
	h.mediaURL(t, inbound, testToken)
	clock.Set(start.Add(7 * 24 * time.Hour))
	gone(t, inbound)
	assert.Equal(t, http.StatusNotFound, h.do(t, http.MethodGet, inboundURL, testToken, nil, "").status)
	h.mediaURL(t, uploaded, testToken)
	clock.Set(start.Add(30 * 24 * time.Hour))
	gone(t, uploaded)
}

// TestDownloadFaults: armed faults fail exactly the next N downloads, each
// as Meta's media host fails, then the bytes are served; a fault can be
// armed by the control endpoint, by Sandbox.FailDownloads or by the
// simulated message itself (before its webhook is posted).
func TestDownloadFaults(t *testing.T) {
	h := newHarness(t, Options{}, false)
	// The client gives up long before the hold (2s) ends, as the engine's
	// fetcher does; a hold that ended first would drop a kept-alive
	// connection, which net/http retries for a GET.
	client := &http.Client{Timeout: 200 * time.Millisecond}
	data := []byte("%PDF-1.4 sandbox invoice")
	sum := sha256.Sum256(data)
	doc := `,"type":"document","document":{"filename":"invoice.pdf","data":"` + base64.StdEncoding.EncodeToString(data) + `"`

	// download fetches a fresh URL and the bytes, returning the status (0:
	// the connection was dropped) and the body.
	download := func(t *testing.T, id string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, h.srv.URL+h.mediaURL(t, id, testToken), nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, body
	}

	cases := []struct {
		name       string
		fault      DownloadFault
		count      int
		viaInbound bool // armed by the simulated message's "fail"
		viaMethod  bool // armed by Sandbox.FailDownloads
		wantStatus int  // of each failed download; 0: dropped
	}{
		{name: "server error twice", fault: DownloadServerError, count: 2, wantStatus: http.StatusServiceUnavailable},
		{name: "not found once, armed by the message", fault: DownloadNotFound, count: 1, viaInbound: true, wantStatus: http.StatusNotFound},
		{name: "timeout once, armed by the method", fault: DownloadTimeout, count: 1, viaMethod: true},
		{name: "corrupt once", fault: DownloadCorrupt, count: 1, wantStatus: http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fields := doc + "}"
			if tc.viaInbound {
				fields = doc + `,"fail":{"fault":"` + string(tc.fault) + `","count":` + strconv.Itoa(tc.count) + `}}`
			}
			id := h.simulateMedia(t, fields)
			switch {
			case tc.viaInbound:
			case tc.viaMethod:
				require.NoError(t, h.sb.FailDownloads(id, tc.count, tc.fault))
			default:
				res := h.do(t, http.MethodPost, "/sandbox/whatsapp/media/"+id+"/faults", "",
					[]byte(`{"fault":"`+string(tc.fault)+`","count":`+strconv.Itoa(tc.count)+`}`), "application/json")
				require.Equal(t, http.StatusOK, res.status, "answer: %s", res.raw)
				state := res.json["data"].(map[string]any)
				assert.Equal(t, string(tc.fault), state["fault"])
				assert.Equal(t, float64(tc.count), state["faultsLeft"])
			}
			for i := range tc.count {
				status, body := download(t, id)
				require.Equal(t, tc.wantStatus, status, "download %d: %s", i+1, body)
				if tc.fault == DownloadCorrupt {
					require.Len(t, body, len(data))
					got := sha256.Sum256(body)
					assert.NotEqual(t, sum, got, "the corrupt bytes do not match the digest")
				}
			}
			status, body := download(t, id)
			require.Equal(t, http.StatusOK, status, "the download after the faults is served")
			assert.Equal(t, data, body)
			st, ok := h.sb.Media(id)
			require.True(t, ok)
			assert.Equal(t, tc.count+1, st.Downloads)
			assert.Zero(t, st.FaultsLeft)
			assert.Equal(t, hex.EncodeToString(sum[:]), st.SHA256)
			assert.Equal(t, data, st.Data)
		})
	}

	t.Run("refusals", func(t *testing.T) {
		id := h.simulateMedia(t, doc+"}")
		for _, tc := range []struct {
			name, path, body, wantField string
			wantStatus                  int
		}{
			{name: "unknown fault", path: id, body: `{"fault":"melt","count":1}`, wantField: "fault", wantStatus: http.StatusBadRequest},
			{name: "count zero", path: id, body: `{"fault":"timeout","count":0}`, wantField: "count", wantStatus: http.StatusBadRequest},
			{name: "count too large", path: id, body: `{"fault":"timeout","count":1001}`, wantField: "count", wantStatus: http.StatusBadRequest},
			{name: "unknown field", path: id, body: `{"fault":"timeout","count":1,"x":1}`, wantStatus: http.StatusBadRequest},
			{name: "unknown media", path: "1234", body: `{"fault":"timeout","count":1}`, wantStatus: http.StatusNotFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := h.do(t, http.MethodPost, "/sandbox/whatsapp/media/"+tc.path+"/faults", "", []byte(tc.body), "application/json")
				require.Equal(t, tc.wantStatus, res.status, "answer: %s", res.raw)
				if tc.wantField != "" {
					assert.Equal(t, tc.wantField, res.json["errors"].([]any)[0].(map[string]any)["field"])
				}
			})
		}
		assert.ErrorIs(t, h.sb.FailDownloads("1234", 1, DownloadTimeout), ErrMediaNotFound)
		assert.ErrorIs(t, h.sb.FailDownloads(id, 1, "melt"), ErrBadFault)
		res := h.inbound(t, `{"from":"919876500777","phoneNumberId":"1","type":"image","image":{"fail":{"fault":"server_error","count":0}}}`)
		require.Equal(t, http.StatusBadRequest, res.status, "answer: %s", res.raw)
		assert.Equal(t, "image.fail", res.json["errors"].([]any)[0].(map[string]any)["field"])
		st, _ := h.sb.Media(id)
		assert.Zero(t, st.FaultsLeft, "a refused arming arms nothing")
	})
}

// testSendByMediaID: Meta accepts a media send whatever its id, and fails
// by webhook (131053) one whose id it cannot use: unknown, of another
// business number, expired, or of a type the message type does not take.
func testSendByMediaID(t *testing.T) {
	clock := &fakeClock{}
	start := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	clock.Set(start)
	h := newHarness(t, Options{Now: clock.Now, AssumeWindowOpen: true}, false)
	png := h.upload(t, "whatsapp", "image/png", "", []byte("\x89PNG pixels"))
	require.Equal(t, http.StatusOK, png.status)
	pngID := png.json["id"].(string)
	body, ct := multipartUpload(t, "", "", "", []byte("\x89PNG other"))
	other := h.do(t, http.MethodPost, "/v21.0/999000111/media?messaging_product=whatsapp&type=image/png", testToken, body, ct)
	require.Equal(t, http.StatusOK, other.status, "answer: %s", other.raw)
	voice := h.simulateMedia(t, `,"type":"audio","audio":{"voice":true}`)

	cases := []struct {
		name       string
		to         string
		object     string
		at         time.Duration
		wantFailed bool
	}{
		{name: "an upload of this number", to: "919876500401", object: `"type":"image","image":{"id":"` + pngID + `"}`},
		{name: "a customer's medium forwarded", to: "919876500402", object: `"type":"audio","audio":{"id":"` + voice + `"}`},
		{name: "unknown id", to: "919876500403", object: `"type":"image","image":{"id":"5550001"}`, wantFailed: true},
		{name: "another number's upload", to: "919876500404", object: `"type":"image","image":{"id":"` + other.json["id"].(string) + `"}`, wantFailed: true},
		{name: "a png as a sticker", to: "919876500405", object: `"type":"sticker","sticker":{"id":"` + pngID + `"}`, wantFailed: true},
		{name: "a png as a document", to: "919876500406", object: `"type":"document","document":{"id":"` + pngID + `","filename":"p.png"}`},
		{name: "a link is not checked", to: "919876500407", object: `"type":"image","image":{"link":"https://example.com/a.jpg"}`},
		{name: "an upload 30 days old", to: "919876500408", object: `"type":"image","image":{"id":"` + pngID + `"}`, at: 30 * 24 * time.Hour, wantFailed: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock.Set(start.Add(tc.at))
			wamid := wamidOf(t, h.send(t, `{"messaging_product":"whatsapp","to":"`+tc.to+`",`+tc.object+`}`))
			if !tc.wantFailed {
				got := waitStatuses(t, h, wamid, 3)
				assert.Equal(t, []string{"sent", "delivered", "read"}, statusNames(got))
				return
			}
			got := waitStatuses(t, h, wamid, 1)
			require.Equal(t, []string{"failed"}, statusNames(got))
			require.Len(t, got[0].Errors, 1)
			assert.Equal(t, CodeMediaUpload, got[0].Errors[0].Code)
		})
	}
}

// TestInboundSamples: a simulated medium without data carries a real file
// of its type (package samples); a type without a sample needs data.
func TestInboundSamples(t *testing.T) {
	h := newHarness(t, Options{}, false)
	all := samples.Accepted()
	cases := []struct {
		name     string
		fields   string
		wantMime string
		want     []byte
	}{
		{name: "image", fields: `,"type":"image","image":{}`, wantMime: "image/jpeg", want: all["jpeg"].Data},
		{name: "png image", fields: `,"type":"image","image":{"mime_type":"image/png"}`, wantMime: "image/png", want: all["png"].Data},
		{name: "voice note", fields: `,"type":"audio","audio":{"voice":true}`, wantMime: "audio/ogg", want: all["ogg-opus"].Data},
		{name: "mp3 audio", fields: `,"type":"audio","audio":{"mime_type":"audio/mpeg"}`, wantMime: "audio/mpeg", want: all["mp3"].Data},
		{name: "amr audio", fields: `,"type":"audio","audio":{"mime_type":"audio/amr"}`, wantMime: "audio/amr", want: all["amr"].Data},
		{name: "video", fields: `,"type":"video","video":{}`, wantMime: "video/mp4", want: all["mp4"].Data},
		{name: "3gp video", fields: `,"type":"video","video":{"mime_type":"video/3gpp"}`, wantMime: "video/3gpp", want: all["3gp"].Data},
		{name: "document", fields: `,"type":"document","document":{"filename":"a.pdf"}`, wantMime: "application/pdf", want: all["pdf"].Data},
		{name: "docx document", fields: `,"type":"document","document":{"mime_type":"` + samples.MimeDOCX + `"}`, wantMime: samples.MimeDOCX, want: all["docx"].Data},
		{name: "sticker", fields: `,"type":"sticker","sticker":{}`, wantMime: "image/webp", want: all["webp"].Data},
		{name: "animated sticker", fields: `,"type":"sticker","sticker":{"animated":true}`, wantMime: "image/webp", want: all["webp-animated"].Data},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := h.simulateMedia(t, tc.fields)
			st, ok := h.sb.Media(id)
			require.True(t, ok)
			assert.Equal(t, tc.wantMime, st.MimeType)
			assert.Equal(t, tc.want, st.Data)
			assert.True(t, st.Inbound)
			assert.Empty(t, st.PhoneNumberID)
		})
	}
	res := h.inbound(t, `{"from":"919876500777","phoneNumberId":"1","type":"document","document":{"mime_type":"application/msword"}}`)
	require.Equal(t, http.StatusBadRequest, res.status, "answer: %s", res.raw)
	assert.Equal(t, "document.data", res.json["errors"].([]any)[0].(map[string]any)["field"])
}

// TestUploadFaults: armed upload faults fail exactly the next N uploads
// of their business number, then uploads are accepted again.
func TestUploadFaults(t *testing.T) {
	h := newHarness(t, Options{}, true)
	res := h.do(t, http.MethodPost, "/sandbox/whatsapp/uploads/faults", "", []byte(`{"phoneNumberId":"`+testPhoneID+`","fault":"server_error","count":1}`), "application/json")
	require.Equal(t, http.StatusOK, res.status, "answer: %s", res.raw)
	require.NoError(t, h.sb.FailUploads("999", 1, UploadRejected))

	up := h.upload(t, "whatsapp", "text/plain", "", []byte("note"))
	require.Equal(t, http.StatusServiceUnavailable, up.status, "answer: %s", up.raw)
	assert.Equal(t, float64(CodeAPIService), up.errorObject(t)["code"])
	up = h.upload(t, "whatsapp", "text/plain", "", []byte("note"))
	require.Equal(t, http.StatusOK, up.status, "the next upload is accepted: %s", up.raw)

	body, ct := multipartUpload(t, "whatsapp", "text/plain", "", []byte("note"))
	other := h.do(t, http.MethodPost, "/v21.0/999/media", testToken, body, ct)
	require.Equal(t, http.StatusBadRequest, other.status)
	assert.Equal(t, float64(CodeMediaUpload), other.errorObject(t)["code"], "a fault is armed per business number")

	require.NoError(t, h.sb.FailUploads(testPhoneID, 1, UploadTimeout))
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/v21.0/"+testPhoneID+"/media", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", ct)
	_, err = (&http.Client{Timeout: 200 * time.Millisecond}).Do(req)
	require.Error(t, err, "the held upload is never answered")
	assert.Equal(t, http.StatusOK, h.upload(t, "whatsapp", "text/plain", "", []byte("note")).status)

	for _, bad := range []string{`{"phoneNumberId":"1","fault":"melt","count":1}`, `{"phoneNumberId":"1","fault":"timeout","count":0}`,
		`{"phoneNumberId":"","fault":"timeout","count":1}`, `{"phoneNumberId":"1","fault":"timeout","count":1,"x":1}`} {
		res := h.do(t, http.MethodPost, "/sandbox/whatsapp/uploads/faults", "", []byte(bad), "application/json")
		assert.Equal(t, http.StatusBadRequest, res.status, "%s: %s", bad, res.raw)
	}
	assert.ErrorIs(t, h.sb.FailUploads(testPhoneID, 1, "melt"), ErrBadFault)
}
