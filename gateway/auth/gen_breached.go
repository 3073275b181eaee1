//go:build ignore

// gen_breached writes breached.txt.gz, the common and breached passwords the
// engine refuses (see breached.go). Run it with `go generate ./gateway/auth/`.
//
// Source: data/passwords.txt of the Go module github.com/trustelem/zxcvbn
// v1.0.1 (MIT licence; a port of Dropbox's zxcvbn, whose password list ranks
// passwords by how often they appeared in leaked password dumps), fetched
// through the Go module proxy with `go mod download`. Every entry of 8 to 128
// characters is kept (shorter ones are refused by length anyway), lower
// case, in rank order, one per line, gzip-compressed.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

const module = "github.com/trustelem/zxcvbn@v1.0.1"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gen_breached:", err)
		os.Exit(1)
	}
}

func run() error {
	out, err := exec.Command("go", "mod", "download", "-json", module).Output()
	if err != nil {
		return fmt.Errorf("go mod download %s: %w", module, err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		return fmt.Errorf("go mod download %s: no directory in %s", module, out)
	}
	f, err := os.Open(filepath.Join(m.Dir, "data", "passwords.txt"))
	if err != nil {
		return err
	}
	defer f.Close()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		p := strings.ToLower(fields[0])
		if l := utf8.RuneCountInString(p); l < 8 || l > 128 || seen[p] {
			continue
		}
		seen[p] = true
		fmt.Fprintln(zw, p)
		n++
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := os.WriteFile("breached.txt.gz", buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Printf("gen_breached: %d passwords from %s, %d bytes compressed\n", n, module, buf.Len())
	return nil
}
