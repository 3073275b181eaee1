package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// decodeJSON reads exactly one JSON object of the request body into dst, a
// pointer to a typed struct. It refuses a non-JSON content type (415), a body
// over the limit (413, enforced by http.MaxBytesReader in the middleware),
// malformed JSON or trailing data (400 INVALID_JSON) and unknown fields or
// wrong types (400 VALIDATION_ERROR). A body that is not UTF-8, or that
// carries a NUL character (raw or as \u0000), is 400 INVALID_JSON: no field
// of the API takes either, and encoding/json would otherwise store U+FFFD in
// place of the bad bytes. Only typed structs are ever filled, so
// operator keys such as "$ne" can never reach a query.
func decodeJSON(r *http.Request, dst any) *apiError {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return errf(http.StatusUnsupportedMediaType, CodeUnsupported, "Content-Type must be application/json")
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errf(http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("request body is larger than %d bytes", mbe.Limit))
		}
		return errf(http.StatusBadRequest, CodeInvalidJSON, "request body could not be read")
	}
	return decodeJSONBytes(body, dst)
}

// decodeJSONBytes is decodeJSON's parser, separate so it can be fuzzed.
func decodeJSONBytes(body []byte, dst any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		return errf(http.StatusBadRequest, CodeInvalidJSON, "request body is empty; a JSON object is required")
	}
	if !utf8.Valid(body) {
		return errf(http.StatusBadRequest, CodeInvalidJSON, "request body is not valid UTF-8")
	}
	if hasNUL(body) {
		return errf(http.StatusBadRequest, CodeInvalidJSON, "request body contains a NUL character, which no field accepts")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
			return errf(http.StatusBadRequest, CodeInvalidJSON, "request body is not valid JSON")
		case errors.As(err, &typ):
			field := typ.Field
			if field == "" {
				return errf(http.StatusBadRequest, CodeValidation, "request body must be a JSON object")
			}
			ve := &validationError{}
			ve.add(field, "INVALID_TYPE", fmt.Sprintf("must be %s", jsonKind(typ.Type.Kind().String())))
			return ve.err()
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			ve := &validationError{}
			ve.add(name, "UNKNOWN_FIELD", "is not an accepted field")
			return ve.err()
		default:
			return errf(http.StatusBadRequest, CodeInvalidJSON, "request body is not valid JSON")
		}
	}
	if len(bytes.TrimSpace(body[dec.InputOffset():])) != 0 {
		return errf(http.StatusBadRequest, CodeInvalidJSON, "request body has data after the JSON object")
	}
	return nil
}

// hasNUL reports a NUL byte or a \u0000 escape in body. An escaped backslash
// is skipped whole, so the text `\\u0000` (a backslash, then "u0000") is
// not mistaken for one.
func hasNUL(body []byte) bool {
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case 0:
			return true
		case '\\':
			if bytes.HasPrefix(body[i+1:], []byte("u0000")) {
				return true
			}
			i++ // the escaped character
		}
	}
	return false
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "bool":
		return "a boolean"
	case "ptr":
		return "an object"
	default:
		return "a number"
	}
}
