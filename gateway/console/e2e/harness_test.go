//go:build browser

package e2e

import (
	"fmt"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// TestProxyCutDropsTheBrowsersSocketUntilRestored checks the harness
// itself, without the console: a WebSocket the page opens to the engine's
// /ws through the proxy is greeted, is closed when the proxy is cut, cannot
// open again while it is cut, and opens once it is restored.
func TestProxyCutDropsTheBrowsersSocketUntilRestored(t *testing.T) {
	b := newBrowser(t)
	e := startEngine(t, nil)
	agent := e.newUser("agent", "Proxy Agent")
	tok := e.login(agent.email, userPassword).token
	tb := b.newTab("agent", e.consoleURL)
	// The engine's JSON answers carry a CSP without connect-src; this page
	// is only an origin to open sockets from.
	if _, err := chromedp.Call(tb.ctx, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true}); err != nil {
		t.Fatalf("bypass CSP: %v", err)
	}
	tb.open("/healthz")

	openSocket := func(name string) {
		tb.eval(fmt.Sprintf(`(() => {
			const ws = new WebSocket('ws://' + location.host + '/ws?access_token=' + %q);
			window[%q] = { ws, frames: [] };
			ws.onmessage = (m) => window[%q].frames.push(JSON.parse(m.data).type);
			return true;
		})()`, tok, name, name))
	}
	openSocket("first")
	tb.waitFor("the socket's hello", `window.first.frames.includes('hello')`, waitTimeout)
	if e.proxy.live() == 0 {
		t.Fatal("the socket is open but the proxy counts no live connection")
	}

	e.proxy.cut()
	tb.waitFor("the socket closed by the cut", `window.first.ws.readyState === WebSocket.CLOSED`, waitTimeout)
	openSocket("during")
	tb.waitFor("a socket opened during the cut to fail", `window.during.ws.readyState === WebSocket.CLOSED`, waitTimeout)
	if got := tb.eval(`window.during.frames.length`); got != float64(0) {
		t.Fatalf("a socket opened during the cut got %v frames", got)
	}

	e.proxy.restore()
	openSocket("after")
	tb.waitFor("a socket opened after the restore to be greeted", `window.after.frames.includes('hello')`, waitTimeout)
}
