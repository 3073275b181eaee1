package clustertest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Do sends a request to the node; body is JSON-encoded unless it is []byte,
// string or nil. A transport error is returned as status 0 (a dead or
// frozen node), never a test failure: the tests count them.
func (n *Node) Do(method, path, token string, body any, headers ...string) (int, []byte, error) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	case string:
		r = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, n.URL+path, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := n.Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	return res.StatusCode, raw, err
}

// API is Do with the JSON answer decoded; it fails the test on a
// transport error.
func (n *Node) API(method, path, token string, body any, headers ...string) (int, map[string]any) {
	n.t.Helper()
	st, raw, err := n.Do(method, path, token, body, headers...)
	if err != nil {
		n.t.Fatalf("node %s: %s %s: %v", n.Name, method, path, err)
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return st, out
}

// Login returns an access token.
func (n *Node) Login(email, password string) string {
	n.t.Helper()
	st, body := n.API("POST", "/api/auth/login", "", map[string]string{"email": email, "password": password})
	if st != http.StatusOK {
		n.t.Fatalf("node %s: login %s: %d %v", n.Name, email, st, body)
	}
	return body["data"].(map[string]any)["accessToken"].(string)
}

// Admin logs the first admin in.
func (n *Node) Admin() string { return n.Login(AdminEmail, AdminPassword) }

// Sign is Meta's X-Hub-Signature-256 of body.
func Sign(body []byte) string {
	m := hmac.New(sha256.New, []byte(AppSecret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Webhook posts a signed webhook body; status 0 is a transport error.
func (n *Node) Webhook(body []byte) (int, error) {
	st, _, err := n.Do("POST", "/api/whatsapp/webhook", "", body, "X-Hub-Signature-256", Sign(body))
	return st, err
}

// TextBody is a realistic single-message webhook body (Meta's shape).
func TextBody(phoneNumberID, waID, wamid, text string, at time.Time) []byte {
	return []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"WABA1","changes":[{"value":{"messaging_product":"whatsapp",`+
		`"metadata":{"display_phone_number":"15550001111","phone_number_id":%q},"contacts":[{"profile":{"name":"Customer %s"},"wa_id":%q}],`+
		`"messages":[{"from":%q,"id":%q,"timestamp":"%d","text":{"body":%q},"type":"text"}]},"field":"messages"}]}]}`,
		phoneNumberID, waID, waID, waID, wamid, at.Unix(), text))
}
