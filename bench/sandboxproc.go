package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// sandboxProc is the WhatsApp Cloud API sandbox (cmd/sandbox) run as a
// process of its own beside the engine child, so that the engine's CPU per
// send excludes the fake Meta's work: accepting the send, then signing and
// POSTing its status webhooks. Its own CPU is read separately.
type sandboxProc struct {
	cmd    *exec.Cmd
	exited chan struct{}
	stderr *bytes.Buffer
}

// buildSandbox builds cmd/sandbox once into the temporary directory.
func (e *Env) buildSandbox(ctx context.Context) (string, error) {
	const key = "\x00sandbox"
	if bin, ok := e.engineBins[key]; ok {
		return bin, nil
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(e.Tmp, "sandbox")
	fmt.Fprintf(e.Progress, "   building cmd/sandbox\n")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/sandbox")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build cmd/sandbox: %w: %s", err, out)
	}
	if e.engineBins == nil {
		e.engineBins = map[string]string{}
	}
	e.engineBins[key] = bin
	return bin, nil
}

// startSandbox starts cmd/sandbox on port, posting its callbacks (signed
// with the child's app secret) to the engine on enginePort, and waits until
// it answers.
func (e *Env) startSandbox(ctx context.Context, port, enginePort int) (*sandboxProc, error) {
	bin, err := e.buildSandbox(ctx)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	cmd.Env = []string{
		"SANDBOX_HOST=127.0.0.1", "SANDBOX_PORT=" + strconv.Itoa(port),
		"SANDBOX_WEBHOOK_URL=http://127.0.0.1:" + strconv.Itoa(enginePort) + "/api/whatsapp/webhook",
		"WHATSAPP_APP_SECRET=" + childAppSecret, "SANDBOX_ASSUME_WINDOW_OPEN=true", "LOG_LEVEL=warn",
		// The Exotel half listens on the same port and is not used.
	}
	var stderr bytes.Buffer
	cmd.Stdout = io.Discard
	cmd.Stderr = &limitedWriter{b: &stderr, max: 64 << 10}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	s := &sandboxProc{cmd: cmd, exited: make(chan struct{}), stderr: &stderr}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/sandbox/whatsapp/sent"
	if err := awaitChild(ctx, http.DefaultClient, url, "start sandbox", s.exited, &stderr, 50*time.Millisecond, 30*time.Second, nil); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// stop ends the sandbox (SIGTERM, then SIGKILL after 10 s).
func (s *sandboxProc) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// cpu is the sandbox's user+system CPU time so far.
func (s *sandboxProc) cpu() time.Duration {
	d, err := procCPU(s.cmd.Process.Pid)
	if err != nil {
		return 0
	}
	return d
}

// sandboxCPUKey is the Run.Extra key of the sandbox process's CPU per
// operation (µs), beside the engine's EngineCPUPerOp.
const sandboxCPUKey = "sandboxCpuPerOpUs"

// sandboxNote says which way the outbound scenario measured the engine's
// CPU: with the sandbox in a process of its own, or inside the engine.
func sandboxNote(g *engine) string {
	if g.sandbox != nil {
		return "engine CPU excludes the WhatsApp sandbox (cmd/sandbox in a process of its own: accepting each send and signing and POSTing its 3 status webhooks); --sandbox-in-engine measures the old way"
	}
	return "engine CPU includes the WhatsApp sandbox, which runs inside the engine (--sandbox-in-engine: accepting each send and signing and POSTing its 3 status webhooks)"
}

// sandboxCPUs lists the sandbox process's own CPU per send of runs that
// measured it.
func sandboxCPUs(runs []Run) string {
	out := ""
	for _, r := range runs {
		if us, ok := r.Extra[sandboxCPUKey]; ok {
			if out == "" {
				out = "; the sandbox's own CPU per send:"
			} else {
				out += ","
			}
			out += fmt.Sprintf(" %s %.0f µs", r.Name, us)
		}
	}
	return out
}
