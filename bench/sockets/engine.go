package sockets

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wacc/engine/gateway/webhook"
)

// Target is a running engine.
type Target struct {
	// BaseURL is http://host:port of the engine.
	BaseURL string
	// AppSecret signs webhooks (the engine's WHATSAPP_APP_SECRET).
	AppSecret string
	// AdminEmail and AdminPassword log in an admin (used by Fanout to make
	// one user a supervisor).
	AdminEmail, AdminPassword string
	// PhoneNumberID is the business number inbound messages are sent to;
	// empty means "100000000000001".
	PhoneNumberID string
}

func (t Target) phoneNumberID() string {
	if t.PhoneNumberID == "" {
		return "100000000000001"
	}
	return t.PhoneNumberID
}

// wsURL is the agent socket's URL.
func (t Target) wsURL() (string, error) {
	u, err := url.Parse(t.BaseURL)
	if err != nil {
		return "", fmt.Errorf("parse target %q: %w", t.BaseURL, err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("target %q: scheme must be http or https", t.BaseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/ws"
	return u.String(), nil
}

// ErrStatus is wrapped by engine calls answered with an unexpected status.
var ErrStatus = errors.New("unexpected status")

// engineClient calls the engine's HTTP API.
type engineClient struct {
	t    Target
	http *http.Client
}

func newEngineClient(t Target, conns int) *engineClient {
	return &engineClient{t: t, http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: time.Minute,
	}}}
}

func (c *engineClient) close() { c.http.CloseIdleConnections() }

// call sends a JSON request and decodes the data of a success answer.
func (c *engineClient) call(ctx context.Context, method, path, token string, body, data any, want int) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.t.BaseURL, "/")+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode != want {
		return fmt.Errorf("%s %s: %w %d: %.200s", method, path, ErrStatus, res.StatusCode, raw)
	}
	if data == nil {
		return nil
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	if err := json.Unmarshal(env.Data, data); err != nil {
		return fmt.Errorf("%s %s: decode data: %w", method, path, err)
	}
	return nil
}

// account is a registered user and its access token.
type account struct {
	ID, Token string
}

type authData struct {
	User struct {
		ID string `json:"id"`
	} `json:"user"`
	AccessToken string `json:"accessToken"`
}

// register creates an agent and returns it with its token.
func (c *engineClient) register(ctx context.Context, email, password, name string) (account, error) {
	var d authData
	err := c.call(ctx, http.MethodPost, "/api/auth/register", "", map[string]string{"email": email, "password": password, "name": name}, &d, http.StatusCreated)
	if err != nil {
		return account{}, fmt.Errorf("register %s: %w", email, err)
	}
	return account{ID: d.User.ID, Token: d.AccessToken}, nil
}

func (c *engineClient) login(ctx context.Context, email, password string) (account, error) {
	var d authData
	if err := c.call(ctx, http.MethodPost, "/api/auth/login", "", map[string]string{"email": email, "password": password}, &d, http.StatusOK); err != nil {
		return account{}, fmt.Errorf("log in %s: %w", email, err)
	}
	return account{ID: d.User.ID, Token: d.AccessToken}, nil
}

func (c *engineClient) setRole(ctx context.Context, adminToken, userID, role string) error {
	if err := c.call(ctx, http.MethodPatch, "/api/users/"+url.PathEscape(userID)+"/role", adminToken, map[string]string{"role": role}, nil, http.StatusOK); err != nil {
		return fmt.Errorf("make %s %s: %w", userID, role, err)
	}
	return nil
}

// webhook posts body signed with the app secret and returns the status.
func (c *engineClient) webhook(ctx context.Context, body []byte) (int, error) {
	return c.postJSON(ctx, "/api/whatsapp/webhook", body, webhook.Sign(body, c.t.AppSecret))
}

// postJSON posts a JSON body to path, with signature in
// X-Hub-Signature-256 when not empty, and returns the status.
func (c *engineClient) postJSON(ctx context.Context, path string, body []byte, signature string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.t.BaseURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("post %s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set(webhook.SignatureHeader, signature)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post %s: %w", path, err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, nil
}

// textBody is a single text-message webhook body as Meta sends it.
func textBody(phoneNumberID, waID, wamid, text string, at time.Time) []byte {
	return []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"WABA1","changes":[{"value":{"messaging_product":"whatsapp",`+
		`"metadata":{"display_phone_number":"15550001111","phone_number_id":%q},"contacts":[{"profile":{"name":"Customer %s"},"wa_id":%q}],`+
		`"messages":[{"from":%q,"id":%q,"timestamp":"%d","text":{"body":%q},"type":"text"}]},"field":"messages"}]}]}`,
		phoneNumberID, waID, waID, waID, wamid, at.Unix(), text))
}

// runID is a short random id that keeps one run's users, customers and
// wamids apart from an earlier run's on the same engine.
func runID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// runDigits is 4 random digits for the customers' wa_ids of one run.
func runDigits() string {
	var b [2]byte
	rand.Read(b[:])
	return fmt.Sprintf("%04d", (int(b[0])<<8|int(b[1]))%10000)
}

// procRSS reads VmRSS of process pid in bytes.
func procRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read rss of %d: %w", pid, err)
	}
	defer f.Close()
	return parseRSS(f)
}

// parseRSS finds the VmRSS line of a /proc/<pid>/status file.
func parseRSS(r io.Reader) (int64, error) {
	s := bufio.NewScanner(r)
	for s.Scan() {
		rest, ok := strings.CutPrefix(s.Text(), "VmRSS:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("parse VmRSS %q", rest)
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse VmRSS %q: %w", rest, err)
		}
		return kb * 1024, nil
	}
	if err := s.Err(); err != nil {
		return 0, fmt.Errorf("read status: %w", err)
	}
	return 0, errors.New("no VmRSS line")
}

// clockTicks is USER_HZ, which is 100 on every Linux the bench runs on.
const clockTicks = 100

// procCPU reads the user+system CPU time process pid has used.
func procCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read cpu of %d: %w", pid, err)
	}
	return parseStatCPU(raw)
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a
// /proc/<pid>/stat line; the command name in parentheses may hold spaces.
func parseStatCPU(raw []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, errors.New("parse stat: no command name")
	}
	f := strings.Fields(string(raw[i+1:]))
	// f[0] is field 3 (state); utime is field 14, stime 15.
	if len(f) < 13 {
		return 0, errors.New("parse stat: too few fields")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("parse stat: %w", err)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// engineProbe samples an engine process's CPU and RSS; a zero pid samples
// nothing.
type engineProbe struct {
	pid      int
	cpuStart time.Duration
}

func startProbe(pid int) *engineProbe {
	p := &engineProbe{pid: pid}
	if pid > 0 {
		p.cpuStart, _ = procCPU(pid)
	}
	return p
}

// finish adds engine_cpu_seconds, engine_cpu_us_per_op and engine_rss_bytes
// to extra.
func (p *engineProbe) finish(extra map[string]float64, ops int64) {
	if p.pid <= 0 {
		return
	}
	if cpu, err := procCPU(p.pid); err == nil {
		used := cpu - p.cpuStart
		extra["engine_cpu_seconds"] = used.Seconds()
		if ops > 0 {
			extra["engine_cpu_us_per_op"] = float64(used.Microseconds()) / float64(ops)
		}
	}
	if rss, err := procRSS(p.pid); err == nil {
		extra["engine_rss_bytes"] = float64(rss)
	}
}
