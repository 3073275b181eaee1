//go:build browser

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// waitTimeout bounds each wait for the page to show something; a wait
// that may take longer (the service window's end) names its own bound.
const waitTimeout = 20 * time.Second

// screenshotDir is where the tests write the screens the README links.
const screenshotDir = "screenshots"

// chromiumPath is CHROMIUM_PATH, or chromium on PATH ("" when neither).
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		return p
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return ""
}

// requireChromium skips the test, loudly, without a browser, and fails it
// when ENGINE_REQUIRE_SERVICES=1 (as .ci/run sets it).
func requireChromium(t testing.TB) string {
	t.Helper()
	p := chromiumPath()
	if p == "" {
		msg := "CHROMIUM: no browser (set CHROMIUM_PATH or install Debian's chromium: apt-get install -y chromium); the console's browser tests did NOT run"
		if os.Getenv("ENGINE_REQUIRE_SERVICES") == "1" {
			t.Fatal(msg)
		}
		fmt.Fprintln(os.Stderr, "!!! "+msg)
		t.Skip(msg)
	}
	return p
}

// browser is one headless Chromium for one test.
type browser struct {
	t   testing.TB
	ctx context.Context
}

// newBrowser starts headless Chromium with a laptop-sized window; it is
// closed when the test ends.
func newBrowser(t testing.TB) *browser {
	t.Helper()
	path := requireChromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.WindowSize(1280, 800),
		chromedp.Flag("lang", "en-US"),
	)
	if os.Geteuid() == 0 {
		// Chromium's own sandbox refuses to run as root.
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium %s: %v", path, err)
	}
	return &browser{t: t, ctx: ctx}
}

// tab is one page in a browser context of its own (its own storage), as
// one person's browser; it records what the page did that a test checks:
// dialogs, console messages, Content-Security-Policy violations and the
// bearer token its requests carry.
type tab struct {
	t    testing.TB
	name string
	ctx  context.Context
	base string

	mu       sync.Mutex
	dialogs  []string
	console  []chromedp.ConsoleMessage
	bearer   string
	requests int
	refreshs int
	sockets  []string
}

// recorderScript runs in every document before the page's own scripts: it
// counts the page's CSP violations. DevTools-injected scripts are not
// subject to the page's CSP, so it violates nothing itself.
const recorderScript = `(() => {
	window.__e2e = { csp: [] };
	document.addEventListener('securitypolicyviolation', (e) => {
		window.__e2e.csp.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber);
	});
})();`

// newTab opens a tab in a fresh browser context, named for logs and
// screenshots, whose pages are on base (the console's origin).
func (b *browser) newTab(name, base string) *tab {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel)
	tb := &tab{t: b.t, name: name, ctx: ctx, base: base}
	// A laptop's screen, the same in every screenshot.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		b.t.Fatalf("open tab %s: %v", name, err)
	}
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	console := chromedp.Console(ctx)
	requests := chromedp.Events(ctx, network.RequestWillBeSent)
	sockets := chromedp.Events(ctx, network.WebSocketCreated)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.dialogs = append(tb.dialogs, string(ev.Type)+": "+ev.Message)
			tb.mu.Unlock()
			// A dialog blocks the page: dismiss it so the test goes on
			// and fails on the record instead of hanging.
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.console = append(tb.console, m)
			tb.mu.Unlock()
		}
	}()
	go func() {
		for ev, err := range requests {
			if err != nil {
				return
			}
			if ev.Request == nil || !strings.HasPrefix(ev.Request.URL, base+"/api/") {
				continue
			}
			auth, _ := ev.Request.Headers["Authorization"].(string)
			tb.mu.Lock()
			tb.requests++
			if strings.HasSuffix(ev.Request.URL, "/api/auth/refresh-token") {
				tb.refreshs++
			}
			if tok, ok := strings.CutPrefix(auth, "Bearer "); ok {
				tb.bearer = tok
			}
			tb.mu.Unlock()
		}
	}()
	go func() {
		for ev, err := range sockets {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.sockets = append(tb.sockets, ev.URL)
			tb.mu.Unlock()
		}
	}()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: recorderScript}); err != nil {
		b.t.Fatalf("tab %s: add the recorder script: %v", name, err)
	}
	b.t.Cleanup(func() {
		if b.t.Failed() {
			// Failure screens go to the temporary directory, never
			// among the committed screenshots.
			path := filepath.Join(os.TempDir(), "console-e2e-"+safeName(b.t.Name())+"-"+name+".png")
			if buf, err := tb.capture(); err == nil && os.WriteFile(path, buf, 0o644) == nil {
				b.t.Logf("tab %s at the failure: %s", name, path)
			}
			b.t.Logf("tab %s console:\n%s", name, tb.consoleText())
		}
	})
	return tb
}

// open navigates to the console at path (such as "/" or "/#/login") and
// returns the document's response.
func (tb *tab) open(path string) *network.Response {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, waitTimeout)
	defer cancel()
	res, err := chromedp.Run(ctx, chromedp.NavigateResponse(tb.base+path))
	if err != nil {
		tb.t.Fatalf("tab %s: open %s: %v", tb.name, path, err)
	}
	return res
}

// do runs actions, bounded by waitTimeout; what says what they do.
func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, waitTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("tab %s: %s: %v\npage: %s", tb.name, what, err, tb.pageText())
	}
}

// click clicks the first element matching the CSS selector once it is
// visible.
func (tb *tab) click(sel string) {
	tb.t.Helper()
	tb.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// clickUntil clicks sel until expr is truthy, within waitTimeout: for an
// element the page may re-draw (replace) between finding and clicking it.
func (tb *tab) clickUntil(sel, what, expr string) {
	tb.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ctx, cancel := context.WithTimeout(tb.ctx, 3*time.Second)
		_ = chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel)))
		cancel()
		if tb.poll(expr, 2*time.Second) {
			return
		}
		if time.Now().After(deadline) {
			tb.t.Fatalf("tab %s: clicking %s for %s did not lead to %s\npage: %s", tb.name, sel, waitTimeout, what, tb.pageText())
		}
	}
}

// typeInto types text into the field sel, key by key.
func (tb *tab) typeInto(sel, text string) {
	tb.t.Helper()
	tb.do("type into "+sel, chromedp.Click(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), text))
}

// clear empties the field sel as a person does: select its text, then
// Backspace.
func (tb *tab) clear(sel string) {
	tb.t.Helper()
	tb.do("focus "+sel, chromedp.Focus(chromedp.CSS(sel)))
	tb.eval(fmt.Sprintf(`document.querySelector(%q).select()`, sel))
	tb.do("delete the text of "+sel, chromedp.KeyEvent(kb.Backspace))
	if v, _ := tb.eval(fmt.Sprintf(`document.querySelector(%q).value`, sel)).(string); v != "" {
		tb.t.Fatalf("tab %s: %s still holds %q after clearing", tb.name, sel, v)
	}
}

// pressEnter sends the Enter key (keydown and keyup, no character) to the
// focused element, as a person's key press.
func (tb *tab) pressEnter() {
	tb.t.Helper()
	tb.do("press Enter", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
			_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, input.DispatchKeyEventParams{
				Type: typ, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13,
			})
			if err != nil {
				return err
			}
		}
		return nil
	}))
}

// choose picks value in the select sel, firing input and change as a
// person's choice does.
func (tb *tab) choose(sel, value string) {
	tb.t.Helper()
	tb.waitFor("select "+sel+" offers "+value,
		fmt.Sprintf(`[...(document.querySelector(%q)?.options || [])].some(o => o.value === %q)`, sel, value), waitTimeout)
	tb.eval(fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.value = %q;
		s.dispatchEvent(new Event('input', {bubbles: true})); s.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`, sel, value))
}

// eval evaluates a JavaScript expression in the page and returns its
// value decoded from JSON (nil for undefined or null).
func (tb *tab) eval(expr string) any {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, waitTimeout)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const v = (`+expr+`); return v === undefined ? "null" : JSON.stringify(v); })()`))
	if err != nil {
		tb.t.Fatalf("tab %s: evaluate %s: %v", tb.name, expr, err)
	}
	var v any
	_ = json.Unmarshal([]byte(raw), &v)
	return v
}

// waitFor polls the expression every 100ms until it is truthy, at most
// timeout, and returns its value decoded from JSON; what says what the
// test waits for, in its failure.
func (tb *tab) waitFor(what, expr string, timeout time.Duration) any {
	tb.t.Helper()
	v, err := tb.pollValue(expr, timeout)
	if v == nil {
		tb.t.Fatalf("tab %s: waited %s for %s (%s); last error %v\npage: %s", tb.name, timeout, what, expr, err, tb.pageText())
	}
	return v
}

// poll is whether the expression became truthy within timeout.
func (tb *tab) poll(expr string, timeout time.Duration) bool {
	v, _ := tb.pollValue(expr, timeout)
	return v != nil
}

// pollValue polls the expression every 100ms until it is truthy, at most
// timeout: its value decoded from JSON, or nil and the last error.
func (tb *tab) pollValue(expr string, timeout time.Duration) (any, error) {
	deadline := time.Now().Add(timeout)
	js := `(() => { try { const v = (` + expr + `); return v ? JSON.stringify(v) : ""; } catch (e) { return ""; } })()`
	var lastErr error
	for {
		ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		cancel()
		if err == nil && raw != "" {
			var v any
			if json.Unmarshal([]byte(raw), &v) == nil && v != nil {
				return v, nil
			}
		}
		lastErr = err
		if time.Now().After(deadline) || tb.ctx.Err() != nil {
			return nil, lastErr
		}
		select {
		case <-tb.ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitText waits for an element matching sel whose text contains text.
func (tb *tab) waitText(sel, text string) {
	tb.t.Helper()
	tb.waitFor(fmt.Sprintf("%s showing %q", sel, text),
		fmt.Sprintf(`[...document.querySelectorAll(%q)].some(e => e.textContent.includes(%q))`, sel, text), waitTimeout)
}

// count is how many elements match sel now.
func (tb *tab) count(sel string) int {
	tb.t.Helper()
	n, _ := tb.eval(fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)).(float64)
	return int(n)
}

// attr is the attribute name of the first element matching sel ("" when
// none).
func (tb *tab) attr(sel, name string) string {
	tb.t.Helper()
	s, _ := tb.eval(fmt.Sprintf(`document.querySelector(%q)?.getAttribute(%q)`, sel, name)).(string)
	return s
}

// pageText is the beginning of the page's text and its location, for
// failure messages.
func (tb *tab) pageText() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 3*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + (document.body ? document.body.innerText.slice(0, 1500) : "(no body)")`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return s
}

// capture is a PNG of the viewport.
func (tb *tab) capture() ([]byte, error) {
	ctx, cancel := context.WithTimeout(tb.ctx, waitTimeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.CaptureScreenshot())
}

// screenshot writes the viewport to screenshots/<name>.png.
func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	buf, err := tb.capture()
	if err != nil {
		tb.t.Errorf("tab %s: screenshot %s: %v", tb.name, name, err)
		return
	}
	if err := os.MkdirAll(screenshotDir, 0o755); err == nil {
		err = os.WriteFile(filepath.Join(screenshotDir, name+".png"), buf, 0o644)
		if err != nil {
			tb.t.Errorf("tab %s: write screenshot %s: %v", tb.name, name, err)
		}
	}
}

// dialogsOpened lists the JavaScript dialogs the page opened.
func (tb *tab) dialogsOpened() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.dialogs...)
}

// accessToken is the bearer token of the page's latest API request.
func (tb *tab) accessToken() string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.bearer
}

// refreshes is how many times the page rotated its tokens
// (POST /api/auth/refresh-token).
func (tb *tab) refreshes() int {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.refreshs
}

// socketURLs lists the URLs of the WebSockets the page opened, in order.
func (tb *tab) socketURLs() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.sockets...)
}

// cspViolations lists the page's CSP violations: the securitypolicyviolation
// events the recorder saw and the browser's console reports of them.
func (tb *tab) cspViolations() []string {
	tb.t.Helper()
	var out []string
	if list, ok := tb.eval(`window.__e2e ? window.__e2e.csp : ["the recorder script did not run"]`).([]any); ok {
		for _, v := range list {
			out = append(out, fmt.Sprint(v))
		}
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, m := range tb.console {
		if strings.Contains(m.Text, "Content Security Policy") || strings.Contains(m.Text, "Content-Security-Policy") {
			out = append(out, "console: "+m.Text)
		}
	}
	return out
}

// exceptions lists the page's uncaught exceptions and unhandled rejections.
func (tb *tab) exceptions() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var out []string
	for _, m := range tb.console {
		if m.IsException() {
			out = append(out, m.String())
		}
	}
	return out
}

func (tb *tab) consoleText() string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var b strings.Builder
	for _, m := range tb.console {
		fmt.Fprintf(&b, "  [%s] %s (%s:%d)\n", m.Type, m.Text, m.URL, m.Line+1)
	}
	return b.String()
}

// safeName is a test name usable in a file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' {
			return '_'
		}
		return r
	}, s)
}
