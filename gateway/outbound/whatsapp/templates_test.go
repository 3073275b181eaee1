package whatsapp

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// templatesPage1 and templatesPage2 are two pages of Meta's
// message_templates answer (the documented sample's shape).
const templatesPage1 = `{"data":[
 {"name":"order_delivery_update","parameter_format":"POSITIONAL","components":[
   {"type":"HEADER","format":"LOCATION"},
   {"type":"BODY","text":"Good news {{1}}! Your order #{{2}} is on its way.","example":{"body_text":[["Mark","566701"]]}},
   {"type":"FOOTER","text":"To stop receiving delivery updates, tap the button below."},
   {"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"Stop Delivery Updates"},
     {"type":"URL","text":"Track","url":"https://x.example/track/{{1}}","example":["https://x.example/track/abc"]},
     {"type":"COPY_CODE","example":"250FF"}]}],
  "language":"en_US","status":"APPROVED","category":"UTILITY","id":"1667192013751005","quality_score":{"score":"GREEN","date":1700000000}},
 {"name":"summer_sale","parameter_format":"NAMED","components":[
   {"type":"BODY","text":"Hi {{first_name}}, {{discount}} off","example":{"body_text_named_params":[{"param_name":"first_name","example":"Asha"}]}},
   {"type":"LIMITED_TIME_OFFER","limited_time_offer":{"text":"Expiring offer!","has_expiration":true}}],
  "language":"es","status":"PAUSED","category":"MARKETING","id":"2","rejected_reason":"NONE"}],
 "paging":{"cursors":{"before":"QVFI1","after":"QVFI2"},"next":"https://graph.facebook.com/v21.0/102290129340398/message_templates?after=QVFI2"}}`

const templatesPage2 = `{"data":[
 {"name":"carousel_promo","components":[{"type":"BODY","text":"Our picks"},
   {"type":"CAROUSEL","cards":[{"components":[{"type":"HEADER","format":"IMAGE"},{"type":"BODY","text":"Card {{1}}"},
     {"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"More"}]}]}]}],
  "language":"en","status":"rejected","category":"marketing","id":"3","rejected_reason":"INVALID_FORMAT"}],
 "paging":{"cursors":{"before":"QVFI2","after":"QVFI3"}}}`

// fakeWABA serves message_templates pages in order of the after cursor.
type fakeWABA struct {
	srv *httptest.Server
	mu  sync.Mutex
	// queries are the query strings seen; auth the Authorization headers.
	queries []string
	auth    []string
	paths   []string
}

func newFakeWABA(t *testing.T, handle func(w http.ResponseWriter, r *http.Request)) *fakeWABA {
	t.Helper()
	f := &fakeWABA{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.queries = append(f.queries, r.URL.RawQuery)
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		f.paths = append(f.paths, r.URL.Path)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		handle(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func TestMessageTemplatesFollowsPages(t *testing.T) {
	f := newFakeWABA(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("after") {
		case "":
			_, _ = w.Write([]byte(templatesPage1))
		case "QVFI2":
			_, _ = w.Write([]byte(templatesPage2))
		default:
			w.WriteHeader(http.StatusBadRequest)
		}
	})
	c := NewClient(ClientOptions{BaseURL: f.srv.URL + "/", Version: "v21.0", AccessToken: "tok"})
	got, err := c.MessageTemplates(t.Context(), "102290129340398")
	require.NoError(t, err)

	require.Len(t, f.queries, 2)
	for i, q := range f.queries {
		assert.Equal(t, "/v21.0/102290129340398/message_templates", f.paths[i])
		assert.Equal(t, "Bearer tok", f.auth[i])
		assert.Contains(t, q, "fields="+strings.ReplaceAll(templateFields, ",", "%2C"))
		assert.Contains(t, q, "limit="+strconv.Itoa(TemplatePageSize))
	}
	assert.NotContains(t, f.queries[0], "after=")
	assert.Contains(t, f.queries[1], "after=QVFI2")

	require.Len(t, got, 3)
	first := got[0]
	assert.Equal(t, "102290129340398", first.BusinessAccountID)
	assert.Equal(t, "1667192013751005", first.ID)
	assert.Equal(t, actors.TemplateApproved, first.Status)
	assert.Equal(t, actors.QualityGreen, first.Quality)
	assert.Equal(t, actors.FormatPositional, first.ParameterFormat)
	require.Len(t, first.Components, 4)
	assert.Equal(t, actors.HeaderLocation, first.Components[0].Format)
	assert.JSONEq(t, `{"body_text":[["Mark","566701"]]}`, string(first.Components[1].Example))
	buttons := first.Components[3].Buttons
	require.Len(t, buttons, 3)
	assert.Equal(t, "https://x.example/track/{{1}}", buttons[1].URL)
	assert.JSONEq(t, `"250FF"`, string(buttons[2].Example))

	sale := got[1]
	assert.Equal(t, actors.FormatNamed, sale.ParameterFormat)
	assert.Equal(t, actors.TemplatePaused, sale.Status)
	assert.Empty(t, sale.Reason, "NONE is no reason")
	require.NotNil(t, sale.Components[1].LimitedTimeOffer)
	assert.True(t, sale.Components[1].LimitedTimeOffer.HasExpiration)

	carousel := got[2]
	assert.Equal(t, actors.TemplateRejected, carousel.Status, "upper-cased")
	assert.Equal(t, actors.CategoryMarketing, carousel.Category)
	assert.Equal(t, "INVALID_FORMAT", carousel.Reason)
	assert.Equal(t, actors.FormatPositional, carousel.ParameterFormat, "no parameter_format is positional")
	require.Len(t, carousel.Components[1].Cards, 1)
	assert.Equal(t, "Card {{1}}", carousel.Components[1].Cards[0].Components[1].Text)
}

func TestMessageTemplatesFailures(t *testing.T) {
	tests := []struct {
		name   string
		handle func(w http.ResponseWriter, r *http.Request)
		// check inspects the error.
		check func(t *testing.T, err error)
	}{
		{name: "Meta's error object", handle: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error":{"message":"(#200) Permissions error","type":"OAuthException","code":200,"fbtrace_id":"A1"}}`))
		}, check: func(t *testing.T, err error) {
			apiErr, ok := errors.AsType[*APIError](err)
			require.True(t, ok, "%v", err)
			assert.Equal(t, 200, apiErr.Code)
			assert.Equal(t, http.StatusForbidden, apiErr.HTTPStatus)
		}},
		{name: "an error on the second page loses the first", handle: func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("after") == "" {
				_, _ = w.Write([]byte(templatesPage1))
				return
			}
			w.WriteHeader(http.StatusInternalServerError)
		}, check: func(t *testing.T, err error) {
			apiErr, ok := errors.AsType[*APIError](err)
			require.True(t, ok, "%v", err)
			assert.Equal(t, NoCode, apiErr.Code)
			assert.Contains(t, err.Error(), "page 2")
		}},
		{name: "endless pages", handle: func(w http.ResponseWriter, r *http.Request) {
			n, _ := strconv.Atoi(r.URL.Query().Get("after"))
			_, _ = fmt.Fprintf(w, `{"data":[{"name":"t%d","language":"en","status":"APPROVED"}],"paging":{"cursors":{"after":"%d"},"next":"x"}}`, n, n+1)
		}, check: func(t *testing.T, err error) {
			require.ErrorIs(t, err, ErrTooManyPages)
		}},
		{name: "a cursor that repeats", handle: func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"data":[{"name":"t","language":"en","status":"APPROVED"}],"paging":{"cursors":{"after":"same"},"next":"x"}}`))
		}, check: func(t *testing.T, err error) {
			require.ErrorIs(t, err, ErrTooManyPages)
		}},
		{name: "not JSON", handle: func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`<html>`))
		}, check: func(t *testing.T, err error) {
			require.ErrorContains(t, err, "decode body")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeWABA(t, tt.handle)
			c := NewClient(ClientOptions{BaseURL: f.srv.URL, AccessToken: "tok"})
			got, err := c.MessageTemplates(t.Context(), "1")
			require.Error(t, err)
			assert.Nil(t, got)
			tt.check(t, err)
		})
	}

	t.Run("no answer", func(t *testing.T) {
		f := newFakeWABA(t, func(w http.ResponseWriter, r *http.Request) {})
		f.srv.Close()
		_, err := NewClient(ClientOptions{BaseURL: f.srv.URL}).MessageTemplates(t.Context(), "1")
		require.ErrorIs(t, err, ErrTransport)
	})
	t.Run("bad account id", func(t *testing.T) {
		_, err := NewClient(ClientOptions{}).MessageTemplates(t.Context(), "1/../2")
		require.Error(t, err)
	})
}

func TestMessageTemplatesToleratesUnexpectedTypes(t *testing.T) {
	f := newFakeWABA(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"data":[{"name":"x","language":"en","status":"APPROVED","components":[{"type":"BODY","text":"Hi","code_expiration_minutes":"ten"}]}]}`))
	})
	got, err := NewClient(ClientOptions{BaseURL: f.srv.URL}).MessageTemplates(t.Context(), "1")
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "Hi", got[0].Components[0].Text)
}
