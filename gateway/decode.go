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
)

// decodeJSON reads exactly one JSON object of the request body into dst, a
// pointer to a typed struct. It refuses a non-JSON content type (415), a body
// over the limit (413, enforced by http.MaxBytesReader in the middleware),
// malformed JSON or trailing data (400 INVALID_JSON) and unknown fields or
// wrong types (400 VALIDATION_ERROR). Only typed structs are ever filled, so
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
