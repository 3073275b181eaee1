// Command bench runs the engine's load scenarios and writes their report:
//
//	go run . run [scenario...] [--target URL] [--duration D] [--rate N] [--conns N] [--quick] [--out DIR]
//
// Each scenario is registered by id (see scenarios.go). Without --target a
// scenario that needs an engine builds cmd/engine once and starts it as a
// child process on free ports, with a temporary DATA_DIR and the sandbox, so
// the engine's CPU time (utime+stime of the child, from /proc) is read apart
// from the load generator's. The outbound scenario runs the WhatsApp
// sandbox (cmd/sandbox) as a process of its own and points the engine at it
// as at Meta's Cloud API, so the engine's CPU per send excludes the fake
// Meta's work (its CPU is reported apart); --sandbox-in-engine has the
// engine serve its built-in sandbox instead, the old way, whose CPU then
// counts as the engine's. With --target it drives a running engine over
// HTTP with webhooks signed by --app-secret and an admin login.
//
// # Guarantees
//
// Every scenario warms up (5 s, 1 s with --quick) before it measures, prints
// a progress line every second (rate, p99, errors), records latencies in HDR
// histograms, and measures its peers (bare handlers, bare actors, a bare
// broker loop) one after the other in the same invocation; every comparison
// is a ratio between runs of that invocation. Results are written as
// <out>/<date>-<scenario>.json, an SVG chart per scenario and a Markdown
// summary <out>/<date>-summary.md. Numbers are results: no threshold makes
// the command fail; a scenario that cannot run (a missing broker, npm)
// says so in the report and the others still run.
package main
