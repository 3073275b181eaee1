package gateway

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The OpenAPI document is generated from the route table, so a route cannot
// exist without being described. Schemas come from the request and response
// Go types by reflection.

var pathParam = regexp.MustCompile(`\{([a-zA-Z]+)\}`)

func (s *Server) openAPI() map[string]any {
	s.openAPIOnce.Do(func() { s.openAPIDoc = s.buildOpenAPI() })
	return s.openAPIDoc
}

func (s *Server) buildOpenAPI() map[string]any {
	paths := map[string]any{}
	for _, rt := range s.routes {
		item, _ := paths[rt.pattern].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.pattern] = item
		}
		op := map[string]any{
			"operationId": operationID(rt.method, rt.pattern),
			"summary":     rt.summary,
			"tags":        []string{rt.tag},
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(rt.pattern, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.query {
			params = append(params, map[string]any{"name": q, "in": "query", "required": false, "schema": map[string]any{"type": "string"}})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.authenticated || rt.perm != "" {
			op["security"] = []any{map[string]any{"bearer": []string{}}}
		}
		if rt.perm != "" {
			op["x-permission"] = string(rt.perm)
		}
		if rt.upload != "" {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"multipart/form-data": map[string]any{"schema": uploadSchema(rt.upload)}}}
		}
		if rt.request != nil {
			op["requestBody"] = map[string]any{
				"required": true,
				"content":  map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(rt.request))}},
			}
		}
		success := map[string]any{"description": http.StatusText(rt.status)}
		if rt.binary {
			success["content"] = map[string]any{"*/*": map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}}
		}
		if rt.response != nil {
			success["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{
				"type": "object",
				"properties": map[string]any{
					"status": map[string]any{"const": "success"},
					"data":   schemaOf(reflect.TypeOf(rt.response)),
				},
			}}}
		}
		op["responses"] = map[string]any{
			strconv.Itoa(rt.status): success,
			"default": map[string]any{"description": "Error", "content": map[string]any{
				"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}},
			}},
		}
		item[strings.ToLower(rt.method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "WhatsApp contact-centre engine",
			"version": "1.0.0",
		},
		"paths": paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
			"schemas": map[string]any{"Error": map[string]any{
				"type":     "object",
				"required": []string{"status", "message", "code"},
				"properties": map[string]any{
					"status":    map[string]any{"const": "error"},
					"message":   map[string]any{"type": "string"},
					"code":      map[string]any{"type": "string"},
					"requestId": map[string]any{"type": "string"},
					"errors":    schemaOf(reflect.TypeOf([]FieldError{})),
				},
			}},
		},
	}
}

// uploadSchema describes a multipart body of files in field: one file,
// or (field "files") up to MaxBulkFiles.
func uploadSchema(field string) map[string]any {
	file := map[string]any{"type": "string", "format": "binary"}
	prop := file
	if field == "files" {
		prop = map[string]any{"type": "array", "items": file, "maxItems": MaxBulkFiles}
	}
	return map[string]any{"type": "object", "required": []string{field}, "properties": map[string]any{field: prop}}
}

func operationID(method, pattern string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, part := range strings.FieldsFunc(pattern, func(r rune) bool { return r == '/' || r == '-' || r == '.' || r == '{' || r == '}' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

var (
	timeType    = reflect.TypeOf(time.Time{})
	rawJSONType = reflect.TypeOf(json.RawMessage{})
)

// schemaOf returns a JSON Schema for t following encoding/json's rules.
func schemaOf(t reflect.Type) map[string]any { return schemaIn(t, map[reflect.Type]bool{}) }

// schemaIn is schemaOf inside the structs of open: a struct that contains
// itself (a template's carousel cards hold components) is an object the
// second time.
func schemaIn(t reflect.Type, open map[reflect.Type]bool) map[string]any {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		return map[string]any{"type": "string", "format": "date-time"}
	}
	if t == rawJSONType {
		return map[string]any{} // any JSON value
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": schemaIn(t.Elem(), open)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaIn(t.Elem(), open)}
	case reflect.Struct:
		if open[t] {
			return map[string]any{"type": "object", "description": t.Name() + " (as above)"}
		}
		open[t] = true
		defer delete(open, t)
		props := map[string]any{}
		var required []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			props[name] = schemaIn(f.Type, open)
			if typ := f.Tag.Get("schematype"); typ != "" {
				// A field decoded by hand (json.RawMessage) names its type.
				props[name] = map[string]any{"type": typ}
			}
			if !strings.Contains(opts, "omitempty") {
				required = append(required, name)
			}
		}
		out := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			out["required"] = required
		}
		return out
	default:
		return map[string]any{}
	}
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.openAPI())
}

type openAPICache struct {
	openAPIOnce sync.Once
	openAPIDoc  map[string]any
}
