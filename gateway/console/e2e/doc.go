// Package e2e is the agent console's end-to-end suite: headless Chromium
// (Debian's chromium, driven by chromedp) against the built engine binary
// running as its own process with SQLite in a temporary DATA_DIR and the
// built-in WhatsApp sandbox, each test doing what an agent or a supervisor
// does in the console and asserting what the screen shows and what reached
// the sandbox. The browser reaches the engine through a TCP proxy the tests
// can cut, which drops every live connection (the agent socket included) as
// a lost network would. Its files carry the build tag browser, so `make
// test` leaves them out and `make test-console` runs them (`go test -tags
// browser ./gateway/console/e2e/`). Without chromium (CHROMIUM_PATH, or
// chromium on PATH) every test skips with a loud message, and fails when
// ENGINE_REQUIRE_SERVICES=1; so does the cut-socket test's run on the Redis
// event stream without Redis on 127.0.0.1:6379. Each test starts its own
// engine and browser, so no test sees another's users or conversations.
// The tests write screenshots of the main screens to screenshots/. Waits
// are bounded polls of the page or the API, never sleeps.
package e2e
