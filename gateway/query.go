package gateway

import (
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// query is a request's query string, already checked for unknown and
// repeated parameters.
type query map[string]string

const maxLimit = 100

// readQuery refuses any parameter not in allowed, and any given twice, so
// shapes such as search[$ne]=x or repeated keys never reach a handler. A
// query string net/url cannot read whole (a bad %-escape, a semicolon, or
// more than its 10 000 parameters) is refused too: r.URL.Query() would
// silently drop it all and serve the request unfiltered.
func readQuery(r *http.Request, allowed ...string) (query, *apiError) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, errf(http.StatusBadRequest, CodeValidation,
			"the query string could not be read: a malformed escape or separator, or more than 10000 parameters")
	}
	ok := make(map[string]bool, len(allowed))
	for _, a := range allowed {
		ok[a] = true
	}
	ve := &validationError{}
	q := query{}
	for k, vs := range values {
		switch {
		case !ok[k]:
			ve.add(k, "UNKNOWN_PARAMETER", "is not an accepted query parameter")
		case len(vs) > 1:
			ve.add(k, "REPEATED_PARAMETER", "must be given once")
		default:
			q[k] = vs[0]
		}
	}
	if e := ve.err(); e != nil {
		return nil, e
	}
	return q, nil
}

func (q query) get(k string) string { return q[k] }

// paging reads page (default 1) and limit (default 20, capped at 100).
func (q query) paging(ve *validationError) (page, limit int) {
	page, limit = 1, 20
	if v, ok := q["page"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1_000_000 {
			ve.add("page", "INVALID_NUMBER", "must be a whole number from 1")
		} else {
			page = n
		}
	}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			ve.add("limit", "INVALID_NUMBER", "must be a whole number from 1 to 100")
		} else {
			limit = min(n, maxLimit)
		}
	}
	return page, limit
}

func (q query) time(ve *validationError, k string) time.Time {
	v, ok := q[k]
	if !ok {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		ve.add(k, "INVALID_TIME", "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
		return time.Time{}
	}
	return t.UTC()
}
