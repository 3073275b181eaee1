// Package console serves the agent console, the browser app agents and
// supervisors work in, from files embedded in the binary (web/): plain ES
// modules, one stylesheet and index.html, with no build step.
//
// The gateway's router hands it GET and HEAD requests for paths that are not
// the API's (see Serves); everything else keeps the API's JSON answers.
//
// Guarantees:
//   - Every response carries a strict Content-Security-Policy (scripts,
//     styles, fonts and connections from the same origin only, no inline
//     script or style, no framing), X-Content-Type-Options: nosniff and
//     Referrer-Policy: no-referrer.
//   - Files are served by path with a fixed Content-Type per extension (never
//     sniffed, never taken from the system's MIME tables), a strong ETag and
//     Cache-Control: no-cache, so a browser revalidates and an upgraded engine
//     is picked up at the next load.
//   - A path without a file extension that names no file (a deep link such as
//     /inbox/abc) serves index.html; the app routes by the URL's hash. A
//     missing file with an extension (/js/nope.js) is a plain 404.
//   - The console reads nothing but its embedded files; it talks to the
//     engine only through the public API and /ws, from the browser.
//
// A Handler is immutable once built and safe for concurrent use.
package console
