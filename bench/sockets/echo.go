package sockets

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// EchoChildEnv is set in the environment of the echo peer's child process.
const EchoChildEnv = "WACC_BENCH_ECHO_CHILD"

// echoAddrPrefix starts the line a child prints with its address.
const echoAddrPrefix = "echo-addr "

// echoChildWired is set by ServeEchoChild in the parent: the executable
// answers EchoChildEnv, so EchoPeer may run the server as a child process.
var echoChildWired atomic.Bool

// ServeEchoChild must be called first thing in the bench CLI's main. In the
// echo peer's child process (EchoChildEnv set) it serves the echo server
// until its stdin closes and exits the process; anywhere else it returns
// false at once, and EchoPeer then knows it may start the child. Without
// it EchoPeer runs the server in-process and its figures include the
// clients' memory.
func ServeEchoChild() bool {
	if os.Getenv(EchoChildEnv) == "" {
		echoChildWired.Store(true)
		return false
	}
	srv, err := newEchoServer()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%s%s\n", echoAddrPrefix, srv.addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	srv.close()
	os.Exit(0)
	return true
}

// echoServer is a bare coder/websocket server: one goroutine per socket
// writing back every message it reads.
type echoServer struct {
	ln   net.Listener
	http *http.Server
	done chan struct{}
}

func newEchoServer() (*echoServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen echo server: %w", err)
	}
	s := &echoServer{ln: ln, done: make(chan struct{})}
	s.http = &http.Server{Handler: http.HandlerFunc(echo), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		_ = s.http.Serve(ln)
	}()
	return s, nil
}

func (s *echoServer) addr() string { return s.ln.Addr().String() }

// close stops the listener and drops every socket.
func (s *echoServer) close() {
	_ = s.http.Close()
	<-s.done
}

// echoGCPath makes the echo server collect its garbage (GET), as the
// engine's pprof heap profile with gc=1 does, before an RSS reading.
const echoGCPath = "/gc"

func echo(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == echoGCPath {
		runtime.GC()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	defer func() { _ = c.CloseNow() }()
	ctx := context.Background()
	for {
		typ, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		if err := c.Write(ctx, typ, b); err != nil {
			return
		}
	}
}

// echoChild is the echo server running as a child process.
type echoChild struct {
	cmd   *exec.Cmd
	stdin io.Closer
	addr  string
	// exited is closed once the child has exited; waitErr is then what
	// its Wait returned.
	exited  chan struct{}
	waitErr error
}

// startEchoChild runs this executable as the echo server.
func startEchoChild(ctx context.Context) (*echoChild, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("start echo child: %w", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), EchoChildEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start echo child: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start echo child: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start echo child: %w", err)
	}
	c := &echoChild{cmd: cmd, stdin: stdin, exited: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			if a, ok := strings.CutPrefix(s.Text(), echoAddrPrefix); ok {
				addr <- a
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case c.addr = <-addr:
		return c, nil
	case <-c.exited:
		return nil, fmt.Errorf("echo child exited before serving: %v", c.waitErr)
	case <-t.C:
	case <-ctx.Done():
	}
	_ = cmd.Process.Kill()
	<-c.exited
	return nil, errors.New("echo child did not report its address")
}

func (c *echoChild) pid() int { return c.cmd.Process.Pid }

// stop closes the child's stdin and waits for it to exit.
func (c *echoChild) stop() {
	_ = c.stdin.Close()
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// EchoPeer holds opts.Sockets idle sockets on a bare coder/websocket echo
// server, measured as Sockets measures the engine: connect rate, time to
// an open socket and the server's RSS growth per socket
// (rss_bytes_per_socket). The server runs as a child process of this
// executable when the CLI calls ServeEchoChild in main (Variant
// "echo-child", the figure comparable with the engine's); otherwise it
// runs in this process (Variant "echo-inprocess", Extra in_process=1) and
// rss_bytes_per_socket is this process's growth, clients included.
func EchoPeer(ctx context.Context, opts SocketsOptions, progress func(string)) (Result, error) {
	progress = orNop(progress)
	opts = opts.withDefaults()
	res := Result{Scenario: "sockets", Variant: "echo-child", Extra: map[string]float64{}}
	var (
		addr string
		pid  int
	)
	if echoChildWired.Load() {
		child, err := startEchoChild(ctx)
		if err != nil {
			return res, fmt.Errorf("echo peer: %w", err)
		}
		defer child.stop()
		addr, pid = child.addr, child.pid()
	}
	perSocket := 1
	if addr == "" {
		progress("echo peer: ServeEchoChild not called by main; the server runs in-process and its memory includes the clients'")
		res.Variant = "echo-inprocess"
		res.Extra["in_process"] = 1
		srv, err := newEchoServer()
		if err != nil {
			return res, fmt.Errorf("echo peer: %w", err)
		}
		defer srv.close()
		addr, pid = srv.addr(), os.Getpid()
		perSocket = 2 // both ends in this process
	}
	if opts.Sockets = fitFileLimit(res.Extra, opts.Sockets, perSocket, progress); opts.Sockets == 0 {
		return res, fmt.Errorf("echo peer: %w", ErrNoFiles)
	}
	host, _, _ := net.SplitHostPort(addr)
	dialer, k, err := opts.dialerFor(host, opts.Sockets)
	if err != nil {
		return res, fmt.Errorf("echo peer: %w", err)
	}
	res.Extra["source_addrs"] = float64(k)
	fl := newFleet("ws://"+addr+"/", socketClient(dialer), nil)
	defer fl.close()
	srv := server{pid: pid}
	if res.Variant == "echo-child" {
		srv.gcURL = "http://" + addr + echoGCPath
	}
	m, err := hold(ctx, fl, opts, srv, "echo peer", func(int) string { return "" }, false, progress)
	m.fill(&res)
	if err != nil {
		return res, fmt.Errorf("echo peer: %w", err)
	}
	progress(fmt.Sprintf("echo peer: %d open at %.0f/s, %.0f server bytes/socket", res.Ops, res.Throughput, res.Extra["rss_bytes_per_socket"]))
	return res, nil
}
