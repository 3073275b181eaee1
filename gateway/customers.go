package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/nyaruka/phonenumbers"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/app"
)

// Customer field limits.
const (
	maxCustomerName = 200
	maxTags         = 20
	maxTagLen       = 50
	maxAttributes   = 50
	maxAttrKeyLen   = 64
	maxAttrValueLen = 1000
)

type customerRequest struct {
	Name       string            `json:"name"`
	Phone      string            `json:"phone"`
	Email      string            `json:"email,omitempty"`
	Tags       []string          `json:"tags,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

type customerView struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Phone      string            `json:"phone"`
	WaID       string            `json:"waId"`
	Email      string            `json:"email"`
	Tags       []string          `json:"tags"`
	Attributes map[string]string `json:"attributes"`
	CreatedAt  time.Time         `json:"createdAt"`
	UpdatedAt  time.Time         `json:"updatedAt"`
}

type customerEnvelope struct {
	Customer customerView `json:"customer"`
}

func viewCustomer(c actors.Customer) customerView {
	v := customerView{ID: c.ID, Name: c.Name, Phone: c.Phone, WaID: c.WaID, Email: c.Email, Tags: c.Tags, Attributes: c.Attributes,
		CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC()}
	if v.Tags == nil {
		v.Tags = []string{}
	}
	if v.Attributes == nil {
		v.Attributes = map[string]string{}
	}
	return v
}

// NormalizePhone parses a phone number and returns it in E.164. Without a
// leading + the number is read in region (none: refused). Letters are
// refused rather than read as a keypad's digits (libphonenumber would take
// "+1415abc2671" for +14152222671), and so are extensions.
func NormalizePhone(raw, region string) (string, bool) {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > 32 || strings.ContainsFunc(raw, unicode.IsLetter) {
		return "", false
	}
	if !strings.HasPrefix(raw, "+") && region == "" {
		return "", false
	}
	if region == "" {
		region = "ZZ"
	}
	key := phoneKey{raw: raw, region: region}
	if p, ok := phones.get(key); ok {
		return p.e164, p.ok
	}
	num, err := phonenumbers.Parse(raw, region)
	p := normalized{}
	if err == nil && phonenumbers.IsValidNumber(num) {
		p = normalized{e164: phonenumbers.Format(num, phonenumbers.E164), ok: true}
	}
	phones.put(key, p)
	return p.e164, p.ok
}

// validate checks and normalises a customer body into c's fields.
func (s *Server) validateCustomer(req customerRequest) (actors.Customer, *apiError) {
	ve := &validationError{}
	var c actors.Customer
	c.Name = strings.TrimSpace(req.Name)
	if n := utf8.RuneCountInString(c.Name); n < 1 || n > maxCustomerName {
		ve.add("name", "INVALID_LENGTH", "must be 1 to 200 characters")
	}
	if req.Phone == "" {
		ve.add("phone", "REQUIRED", "is required")
	} else if p, ok := NormalizePhone(req.Phone, s.cfg.DefaultPhoneRegion); ok {
		c.Phone, c.WaID = p, strings.TrimPrefix(p, "+")
	} else {
		ve.add("phone", "INVALID_PHONE", "must be a valid phone number in international format, such as +919876543210")
	}
	if req.Email != "" {
		if e, err := app.NormalizeEmail(req.Email); err == nil {
			c.Email = e
		} else {
			ve.add("email", "INVALID_EMAIL", "must be a valid email address")
		}
	}
	if len(req.Tags) > maxTags {
		ve.add("tags", "TOO_MANY", "at most 20 tags")
	}
	seen := map[string]bool{}
	c.Tags = []string{}
	for _, t := range req.Tags {
		t = strings.TrimSpace(t)
		if n := utf8.RuneCountInString(t); n < 1 || n > maxTagLen {
			ve.add("tags", "INVALID_LENGTH", "each tag must be 1 to 50 characters")
			break
		}
		if !seen[t] {
			seen[t] = true
			c.Tags = append(c.Tags, t)
		}
	}
	if len(req.Attributes) > maxAttributes {
		ve.add("attributes", "TOO_MANY", "at most 50 attributes")
	}
	c.Attributes = map[string]string{}
	for k, v := range req.Attributes {
		if n := utf8.RuneCountInString(k); n < 1 || n > maxAttrKeyLen || strings.HasPrefix(k, "$") || strings.ContainsAny(k, ".\x00") {
			ve.add("attributes", "INVALID_KEY", "keys must be 1 to 64 characters, not start with $ and contain no dot")
			break
		}
		if utf8.RuneCountInString(v) > maxAttrValueLen {
			ve.add("attributes."+k, "INVALID_LENGTH", "values must be at most 1000 characters")
			break
		}
		c.Attributes[k] = v
	}
	return c, ve.err()
}

func duplicatePhone() *apiError {
	e := errf(http.StatusConflict, CodeConflict, "a customer with this phone already exists")
	e.Fields = []FieldError{{Field: "phone", Message: "is already used by another customer", Code: "DUPLICATE"}}
	return e
}

func (s *Server) handleCreateCustomer(w http.ResponseWriter, r *http.Request) {
	var req customerRequest
	if e := decodeJSON(r, &req); e != nil {
		writeError(w, r, e)
		return
	}
	c, e := s.validateCustomer(req)
	if e != nil {
		writeError(w, r, e)
		return
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	c.ID, c.Version, c.CreatedAt, c.UpdatedAt = actors.NewID(), 1, now, now
	err := s.store.CreateCustomer(r.Context(), c)
	if errors.Is(err, actors.ErrDuplicate) {
		s.audit(r, "customers.create", "customer", actors.OutcomeFailure, "duplicate phone")
		writeError(w, r, duplicatePhone())
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, "customers.create", "customer:"+c.ID, actors.OutcomeSuccess, "")
	writeData(w, http.StatusCreated, customerEnvelope{Customer: viewCustomer(c)})
}

func (s *Server) handleGetCustomer(w http.ResponseWriter, r *http.Request) {
	c, err := s.customers.get(r.Context(), chi.URLParam(r, "id"))
	if errors.Is(err, actors.ErrNotFound) {
		writeError(w, r, errf(http.StatusNotFound, CodeNotFound, "customer not found"))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeData(w, http.StatusOK, customerEnvelope{Customer: viewCustomer(c)})
}

func (s *Server) handleUpdateCustomer(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	var req customerRequest
	if e := decodeJSON(r, &req); e != nil {
		writeError(w, r, e)
		return
	}
	next, e := s.validateCustomer(req)
	if e != nil {
		writeError(w, r, e)
		return
	}
	c, err := s.replaceCustomer(r.Context(), id, next)
	switch {
	case errors.Is(err, actors.ErrNotFound):
		writeError(w, r, errf(http.StatusNotFound, CodeNotFound, "customer not found"))
		return
	case errors.Is(err, actors.ErrDuplicate):
		s.audit(r, "customers.update", "customer:"+id, actors.OutcomeFailure, "duplicate phone")
		writeError(w, r, duplicatePhone())
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	s.audit(r, "customers.update", "customer:"+id, actors.OutcomeSuccess, "")
	writeData(w, http.StatusOK, customerEnvelope{Customer: viewCustomer(c)})
}

// replaceCustomer writes next's fields over customer id with optimistic
// concurrency, retrying a few times when another writer got in between.
func (s *Server) replaceCustomer(ctx context.Context, id string, next actors.Customer) (actors.Customer, error) {
	defer s.customers.invalidate(ctx, id)
	for attempt := 0; ; attempt++ {
		cur, err := s.store.Customer(ctx, id)
		if err != nil {
			return actors.Customer{}, err
		}
		next.ID, next.Version, next.CreatedAt = cur.ID, cur.Version, cur.CreatedAt
		next.UpdatedAt = s.now().UTC().Truncate(time.Millisecond)
		c, err := s.store.UpdateCustomer(ctx, next)
		if errors.Is(err, actors.ErrConflict) && attempt < 5 {
			continue
		}
		return c, err
	}
}

func (s *Server) handleDeleteCustomer(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	err := s.store.DeleteCustomer(r.Context(), id)
	s.customers.invalidate(r.Context(), id)
	if errors.Is(err, actors.ErrNotFound) {
		writeError(w, r, errf(http.StatusNotFound, CodeNotFound, "customer not found"))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, "customers.delete", "customer:"+id, actors.OutcomeSuccess, "")
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleListCustomers(w http.ResponseWriter, r *http.Request) {
	q, ae := readQuery(r, "page", "limit", "search", "tag")
	if ae != nil {
		writeError(w, r, ae)
		return
	}
	ve := &validationError{}
	page, limit := q.paging(ve)
	f := actors.CustomerFilter{Search: strings.TrimSpace(q.get("search")), Tag: strings.TrimSpace(q.get("tag")), Page: page, Limit: limit}
	if utf8.RuneCountInString(f.Search) > 100 {
		ve.add("search", "INVALID_LENGTH", "must be at most 100 characters")
	}
	if utf8.RuneCountInString(f.Tag) > maxTagLen {
		ve.add("tag", "INVALID_LENGTH", "must be at most 50 characters")
	}
	if e := ve.err(); e != nil {
		writeError(w, r, e)
		return
	}
	cs, total, err := s.store.ListCustomers(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items := make([]customerView, 0, len(cs))
	for _, c := range cs {
		items = append(items, viewCustomer(c))
	}
	writeData(w, http.StatusOK, listPage[customerView]{Items: items, Total: total, Page: page, Limit: limit})
}
