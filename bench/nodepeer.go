package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The Node peers of the ingest (Express) and fanout/sockets (Socket.IO)
// scenarios: their package.json and servers.
//
//go:embed nodepeer/package.json nodepeer/*.js
var nodePeerFiles embed.FS

// nodePeer is one Node server the bench measures beside the engine.
type nodePeer struct {
	Name   string
	Script string
}

// expressPeers are the ingest scenario's Express peers, in the order they run.
var expressPeers = []nodePeer{
	{Name: "express hello-world", Script: "express-hello.js"},
	{Name: "express HMAC + better-sqlite3", Script: "express-hmac-sqlite.js"},
}

// socketIOPeerScript is the Socket.IO server of the fanout and sockets
// scenarios.
const socketIOPeerScript = "socketio-fanout.js"

// errNoNPM says that the Node peers cannot be installed on this machine.
var errNoNPM = errors.New("npm or node is not on PATH")

// installedMarker is written last into a cache folder whose install and
// load check succeeded.
const installedMarker = ".wacc-bench-installed"

// nodeCacheKey names the cache folder of an install: the same package.json
// under the same Node version reuses it (better-sqlite3 is a native module
// built for one Node ABI).
func nodeCacheKey(packageJSON []byte, nodeVersion string) string {
	h := sha256.New()
	h.Write(packageJSON)
	h.Write([]byte{0})
	h.Write([]byte(strings.TrimSpace(nodeVersion)))
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// nodeCacheRoot is where the Node peers are installed:
// $XDG_CACHE_HOME/wacc-bench/node (~/.cache/wacc-bench/node by default).
func nodeCacheRoot() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("node peers cache folder: %w", err)
	}
	return filepath.Join(base, "wacc-bench", "node"), nil
}

// installNodePeers installs the peers' dependencies with npm once into the
// cache folder keyed by package.json and the Node version, writes the
// server scripts next to them, and returns the folder. It answers an error
// wrapping errNoNPM when npm or node is absent.
func (e *Env) installNodePeers(ctx context.Context) (string, error) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("%w: %w", errNoNPM, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return "", fmt.Errorf("%w: %w", errNoNPM, err)
	}
	out, err := exec.CommandContext(ctx, node, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("node --version: %w", err)
	}
	pkg, err := nodePeerFiles.ReadFile("nodepeer/package.json")
	if err != nil {
		return "", fmt.Errorf("read embedded package.json: %w", err)
	}
	root, err := nodeCacheRoot()
	if err != nil {
		return "", err
	}
	key := nodeCacheKey(pkg, string(out))
	dir := filepath.Join(root, key)
	if _, err := os.Stat(filepath.Join(dir, installedMarker)); err != nil {
		if err := e.npmInstall(ctx, npm, node, root, key, pkg); err != nil {
			return "", err
		}
	}
	if err := writeNodeScripts(dir); err != nil {
		return "", err
	}
	return dir, nil
}

// npmInstall installs pkg into a partial folder beside the cache folder,
// checks that the modules load, and renames it into place.
func (e *Env) npmInstall(ctx context.Context, npm, node, root, key string, pkg []byte) error {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", root, err)
	}
	dir := filepath.Join(root, key)
	tmp, err := os.MkdirTemp(root, key+".partial-")
	if err != nil {
		return fmt.Errorf("npm install: %w", err)
	}
	defer os.RemoveAll(tmp) // gone after the rename; left-overs of a failure otherwise
	if err := os.WriteFile(filepath.Join(tmp, "package.json"), pkg, 0o644); err != nil {
		return fmt.Errorf("npm install: %w", err)
	}
	fmt.Fprintf(e.Progress, "   installing express, better-sqlite3@12 and socket.io@4 with npm into %s (once; building better-sqlite3 may take a minute or two)\n", dir)
	ictx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	var log bytes.Buffer
	cmd := exec.CommandContext(ictx, npm, "install", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = tmp
	cmd.Stdout = &limitedWriter{b: &log, max: 16 << 10}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm install in %s: %w: %s", tmp, err, tail(log.String(), 800))
	}
	check := exec.CommandContext(ictx, node, "-e", "require('express'); require('socket.io'); new (require('better-sqlite3'))(':memory:').close()")
	check.Dir = tmp
	if out, err := check.CombinedOutput(); err != nil {
		return fmt.Errorf("load express, socket.io and better-sqlite3 after npm install: %w: %s", err, tail(string(out), 800))
	}
	if err := os.WriteFile(filepath.Join(tmp, installedMarker), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return fmt.Errorf("npm install: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another bench may have installed the same key meanwhile.
		if _, serr := os.Stat(filepath.Join(dir, installedMarker)); serr == nil {
			return nil
		}
		return fmt.Errorf("move the npm install into %s: %w", dir, err)
	}
	return nil
}

// writeNodeScripts writes every embedded server script into dir, so that
// a changed script never needs a new install.
func writeNodeScripts(dir string) error {
	scripts, err := fs.Glob(nodePeerFiles, "nodepeer/*.js")
	if err != nil {
		return fmt.Errorf("list embedded node scripts: %w", err)
	}
	for _, p := range scripts {
		b, err := nodePeerFiles.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read embedded %s: %w", p, err)
		}
		if err := os.WriteFile(filepath.Join(dir, path.Base(p)), b, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", path.Base(p), err)
		}
	}
	return nil
}

// startNodePeer runs `node script` from dir on a free port with the app
// secret, a fresh SQLite file and env (KEY=value), and waits until it
// answers HTTP. The answer is an engine so that the load and the CPU
// accounting are the engine's; the caller stops it.
func (e *Env) startNodePeer(ctx context.Context, dir, script, secret string, env ...string) (*engine, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	db, err := os.MkdirTemp(e.Tmp, "node-")
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", script, err)
	}
	cmd := exec.Command("node", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_ENV=production", "PORT="+strconv.Itoa(port), "APP_SECRET="+secret,
		"DB_PATH="+filepath.Join(db, "webhooks.db"))
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stdout = io.Discard
	cmd.Stderr = &limitedWriter{b: &stderr, max: 64 << 10}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", script, err)
	}
	client := newClient(e.Opts.Conns)
	g := &engine{URL: "http://127.0.0.1:" + strconv.Itoa(port), AppSecret: secret, cmd: cmd, exited: make(chan struct{}), stderr: &stderr, Client: client}
	go func() { _ = cmd.Wait(); close(g.exited) }()
	// Any HTTP answer means the server listens.
	if err := awaitChild(ctx, client, g.URL+"/", "start "+script, g.exited, &stderr, 50*time.Millisecond, 30*time.Second, nil); err != nil {
		_ = g.Stop()
		return nil, err
	}
	return g, nil
}

// tail is the last n bytes of s.
func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
