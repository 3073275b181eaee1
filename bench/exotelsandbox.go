package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// findExotelSandbox returns the base URL of the Exotel sandbox an engine
// child started. The engine binds it on a free loopback port and logs the
// address at info level, which the child (LOG_LEVEL=warn, so that request
// logs cost nothing) does not print; so the bench lists the child's
// listening TCP sockets (its /proc/<pid>/fd and /proc/<pid>/net/tcp) and
// asks each for the sandbox's control endpoint GET /sandbox/exotel/faults.
func findExotelSandbox(ctx context.Context, g *engine) (string, error) {
	pid := enginePID(g)
	deadline := time.Now().Add(10 * time.Second)
	var lastErr error
	for {
		ports, err := listeningPorts(pid)
		if err != nil {
			lastErr = err
		}
		for _, p := range ports {
			base := "http://127.0.0.1:" + strconv.Itoa(p)
			var out struct {
				Status string `json:"status"`
				Data   struct {
					Fault *string `json:"fault"`
				} `json:"data"`
			}
			if g.do(ctx, http.MethodGet, base+"/sandbox/exotel/faults", "", nil, http.StatusOK, &out) == nil && out.Status == "success" && out.Data.Fault != nil {
				return base, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("find the engine's Exotel sandbox: none of its listening ports %v answers GET /sandbox/exotel/faults (%v)", ports, lastErr)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// listeningPorts lists the TCP ports process pid listens on.
func listeningPorts(pid int) ([]int, error) {
	if pid == 0 {
		return nil, errors.New("list listening ports: no process")
	}
	dir := "/proc/" + strconv.Itoa(pid)
	fds, err := os.ReadDir(filepath.Join(dir, "fd"))
	if err != nil {
		return nil, fmt.Errorf("list listening ports: %w", err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(dir, "fd", fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	var ports []int
	for _, table := range []string{"tcp", "tcp6"} {
		f, err := os.Open(filepath.Join(dir, "net", table))
		if err != nil {
			continue // no IPv6
		}
		ps, err := parseListeners(f, inodes)
		_ = f.Close()
		if err != nil {
			return nil, fmt.Errorf("list listening ports: %s: %w", table, err)
		}
		ports = append(ports, ps...)
	}
	sort.Ints(ports)
	return ports, nil
}

// parseListeners reads a /proc/net/tcp table and returns the local ports
// of its listening sockets (state 0A) whose inode is in inodes.
func parseListeners(r io.Reader, inodes map[string]bool) ([]int, error) {
	sc := bufio.NewScanner(r)
	var ports []int
	first := true
	for sc.Scan() {
		if first {
			first = false // the header
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 10 {
			continue
		}
		if f[3] != "0A" || !inodes[f[9]] {
			continue
		}
		i := strings.LastIndexByte(f[1], ':')
		if i < 0 {
			return nil, fmt.Errorf("bad local address %q", f[1])
		}
		p, err := strconv.ParseUint(f[1][i+1:], 16, 16)
		if err != nil {
			return nil, fmt.Errorf("bad local port %q", f[1])
		}
		ports = append(ports, int(p))
	}
	return ports, sc.Err()
}

// placedCheck compares the Exotel sandbox's log of placed calls with the
// calls the engine accepted from the bench.
type placedCheck struct {
	// placed is how many calls the sandbox placed since it started (the
	// last sequence number); listed how many its log still holds (it
	// keeps the newest 10,000).
	placed, listed int
	// twice counts placements beyond the first of one call (by
	// CustomField, our call id); notPlaced the accepted calls the engine
	// closed with an Exotel CallSid that the complete log does not hold;
	// foreign the placements of calls the bench was not answered 202 for.
	twice, notPlaced, foreign int
	// expected is how many accepted calls closed with an Exotel CallSid.
	expected  int
	unchecked bool
}

// wrong is the number of calls not placed exactly once: zero when every
// accepted call the engine says it placed was placed once and nothing
// else was. When the log dropped its oldest entries, the total placed must
// still equal the calls the engine says it placed.
func (c placedCheck) wrong() int {
	n := c.twice + c.notPlaced + c.foreign
	if c.listed < c.placed && c.placed != c.expected {
		n += abs(c.placed - c.expected)
	}
	return n
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func (c placedCheck) extra() map[string]float64 {
	return map[string]float64{"placed": float64(c.placed), "placedTwice": float64(c.twice), "acceptedNotPlaced": float64(c.notPlaced),
		"placedNotAccepted": float64(c.foreign), "placedExpected": float64(c.expected)}
}

// partialNote says when the sandbox's log no longer held every placement.
func (c placedCheck) partialNote() string {
	if c.listed >= c.placed {
		return ""
	}
	return fmt.Sprintf(" (the sandbox's log kept the newest %d of %d placements: the older ones were checked by count only, %d placed against %d the engine says it placed)", c.listed, c.placed, c.placed, c.expected)
}

// sandboxPlacement is an entry of GET /sandbox/exotel/calls.
type sandboxPlacement struct {
	Seq         uint64 `json:"seq"`
	Sid         string `json:"sid"`
	CustomField string `json:"customField"`
}

// checkPlacedOnce reads the sandbox's placed calls and compares them with
// the tracker's accepted calls.
func checkPlacedOnce(ctx context.Context, g *engine, sandbox string, tr *callTracker) (placedCheck, error) {
	var out struct {
		Data struct {
			Items []sandboxPlacement `json:"items"`
		} `json:"data"`
	}
	if err := g.do(ctx, http.MethodGet, sandbox+"/sandbox/exotel/calls", "", nil, http.StatusOK, &out); err != nil {
		return placedCheck{}, fmt.Errorf("read the Exotel sandbox's placed calls: %w", err)
	}
	return comparePlacements(out.Data.Items, tr.acceptedIDs()), nil
}

// comparePlacements checks the placements (oldest first) against the
// accepted calls (id → the engine closed it with an Exotel CallSid).
func comparePlacements(items []sandboxPlacement, accepted map[string]bool) placedCheck {
	c := placedCheck{listed: len(items)}
	seen := map[string]int{}
	for _, it := range items {
		c.placed = max(c.placed, int(it.Seq))
		seen[it.CustomField]++
		if _, ours := accepted[it.CustomField]; !ours {
			c.foreign++
		} else if seen[it.CustomField] > 1 {
			c.twice++
		}
	}
	for id, placed := range accepted {
		if placed {
			c.expected++
		}
		if placed && seen[id] == 0 && c.listed >= c.placed {
			c.notPlaced++
		}
	}
	return c
}
