package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/wacc/engine/actors"
)

// Paging of MessageTemplates.
const (
	// TemplatePageSize is the limit asked of each page.
	TemplatePageSize = 50
	// MaxTemplatePages bounds the pages one listing follows (10 000
	// templates; Meta allows a business account at most 6 000).
	MaxTemplatePages = 200
	// maxListBytes bounds how much of one page is read.
	maxListBytes = 16 << 20
)

// templateFields are the template fields MessageTemplates asks for.
const templateFields = "id,name,language,status,category,parameter_format,components,quality_score,rejected_reason"

// ErrTooManyPages means a listing had more pages than MaxTemplatePages (or a
// page's cursor repeated): it was abandoned rather than returned partial.
var ErrTooManyPages = errors.New("whatsapp listing has too many pages")

// wireTemplate is one template of the message_templates endpoint.
type wireTemplate struct {
	ID              string                     `json:"id"`
	Name            string                     `json:"name"`
	Language        string                     `json:"language"`
	Status          string                     `json:"status"`
	Category        string                     `json:"category"`
	ParameterFormat string                     `json:"parameter_format"`
	Components      []actors.TemplateComponent `json:"components"`
	QualityScore    *struct {
		Score string `json:"score"`
	} `json:"quality_score"`
	RejectedReason string `json:"rejected_reason"`
}

type templatePage struct {
	Data   []wireTemplate `json:"data"`
	Paging struct {
		Cursors struct {
			After string `json:"after"`
		} `json:"cursors"`
		Next string `json:"next"`
	} `json:"paging"`
}

// MessageTemplates lists every template of the WhatsApp Business Account
// wabaID: GET {BaseURL}/{Version}/{wabaID}/message_templates with fields
// and limit, then the next page by its paging.cursors.after for as long as
// the answer has a paging.next (the next URL itself is not followed, so the
// token never goes to a host other than BaseURL), at most MaxTemplatePages
// pages. It returns the whole list or an error: an *APIError for a non-2xx
// answer, ErrTransport when no answer came, ErrTooManyPages, or a decode
// error. Each template's BusinessAccountID is wabaID; ParameterFormat is
// POSITIONAL when Meta sent none; Reason is the rejection reason unless it
// is NONE.
func (c *Client) MessageTemplates(ctx context.Context, wabaID string) ([]actors.Template, error) {
	if wabaID == "" || strings.ContainsAny(wabaID, "/?#") {
		return nil, fmt.Errorf("list templates: bad business account id %q", wabaID)
	}
	var out []actors.Template
	seen := map[string]bool{}
	after := ""
	for page := 1; ; page++ {
		if page > MaxTemplatePages {
			return nil, fmt.Errorf("list templates of %s: %w (more than %d)", wabaID, ErrTooManyPages, MaxTemplatePages)
		}
		p, err := c.templatePage(ctx, wabaID, after)
		if err != nil {
			return nil, fmt.Errorf("list templates of %s: page %d: %w", wabaID, page, err)
		}
		for _, w := range p.Data {
			out = append(out, w.template(wabaID))
		}
		next := p.Paging.Cursors.After
		if p.Paging.Next == "" || next == "" || len(p.Data) == 0 {
			return out, nil
		}
		if seen[next] {
			return nil, fmt.Errorf("list templates of %s: %w (cursor repeated on page %d)", wabaID, ErrTooManyPages, page)
		}
		seen[next] = true
		after = next
	}
}

// templatePage makes one request of the listing.
func (c *Client) templatePage(ctx context.Context, wabaID, after string) (templatePage, error) {
	q := url.Values{"fields": {templateFields}, "limit": {strconv.Itoa(TemplatePageSize)}}
	if after != "" {
		q.Set("after", after)
	}
	endpoint := c.base + "/" + url.PathEscape(wabaID) + "/message_templates?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return templatePage{}, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Accept", "application/json")
	resp, err := c.httpc.Do(req)
	if err != nil {
		return templatePage{}, fmt.Errorf("%w: %w", ErrTransport, unwrapURLError(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxListBytes))
	if err != nil {
		return templatePage{}, fmt.Errorf("http %d: %w: read body: %w", resp.StatusCode, ErrTransport, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return templatePage{}, decodeAPIError(resp.StatusCode, raw)
	}
	var p templatePage
	if err := json.Unmarshal(raw, &p); err != nil {
		// A field of an unexpected type (a newer format) is left zero and
		// the rest kept, as encoding/json does; anything else is refused.
		if _, mismatch := errors.AsType[*json.UnmarshalTypeError](err); !mismatch {
			return templatePage{}, fmt.Errorf("http %d: decode body: %w", resp.StatusCode, err)
		}
	}
	return p, nil
}

func (w wireTemplate) template(wabaID string) actors.Template {
	t := actors.Template{BusinessAccountID: wabaID, ID: w.ID, Name: w.Name, Language: w.Language, Status: strings.ToUpper(w.Status),
		Category: strings.ToUpper(w.Category), ParameterFormat: strings.ToUpper(w.ParameterFormat), Components: w.Components}
	if t.ParameterFormat == "" {
		t.ParameterFormat = actors.FormatPositional
	}
	if w.QualityScore != nil {
		t.Quality = strings.ToUpper(w.QualityScore.Score)
	}
	if r := w.RejectedReason; r != "" && !strings.EqualFold(r, "NONE") {
		t.Reason = r
	}
	return t
}
