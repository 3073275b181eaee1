package servicetest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The FerretDB handlers FerretDB serves.
const (
	FerretSQLite   = "sqlite"
	FerretPostgres = "postgresql"
)

// ferretPkg is the command FerretDB builds and runs (build tag ferretd).
const ferretPkg = "github.com/wacc/engine/persistence/servicetest/ferretd"

// ferretStartTimeout bounds building the command and waiting for its URI.
const ferretStartTimeout = 3 * time.Minute

// ferretChild is one FerretDB process, shared by every test of the binary
// that uses its handler.
type ferretChild struct {
	once  sync.Once
	uri   string
	err   error
	cmd   *exec.Cmd
	stdin io.WriteCloser
	exit  chan struct{} // closed when the process has been waited for
	dir   string        // SQLite files; removed by StopFerretDB
	// pgURL and pgDB: the PostgreSQL handler's own database (see
	// pgdatabase.go), dropped by StopFerretDB.
	pgURL, pgDB string
}

var (
	ferretMu       sync.Mutex
	ferretChildren = map[string]*ferretChild{FerretSQLite: {}, FerretPostgres: {}}

	ferretBuildOnce sync.Once
	ferretBin       string // the built command
	ferretBinDir    string
	ferretBuildErr  error
)

// FerretDB returns the MongoDB URI of a FerretDB with handler (FerretSQLite
// or FerretPostgres) serving on loopback, or skips/fails t. The first call
// of the test binary builds the command in ./ferretd (without -race, so
// FerretDB and its SQLite are not race-instrumented) and the first call for
// a handler starts it as a child process; later calls share it, so each
// test must use a database of its own. The package's TestMain must call
// StopFerretDB after m.Run. The child also exits when the test binary dies
// (its stdin closes). The PostgreSQL handler needs the local PostgreSQL
// (see PostgresURL).
func FerretDB(t testing.TB, handler string) string {
	t.Helper()
	var pgURL string
	if handler == FerretPostgres {
		pgURL = PostgresURL(t)
	}
	ferretMu.Lock()
	c := ferretChildren[handler]
	ferretMu.Unlock()
	if c == nil {
		t.Fatalf("servicetest.FerretDB: unknown handler %q", handler)
	}
	c.once.Do(func() { c.err = c.start(handler, pgURL) })
	if c.err != nil {
		msg := fmt.Sprintf("\n\n*** FerretDB (%s handler) did not start: %v ***\n*** this test needs it; set ENGINE_REQUIRE_SERVICES=1 to make this a failure ***\n", handler, c.err)
		if Required() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return c.uri
}

// buildFerret builds the command once per test binary with the go on PATH,
// honouring GOFLAGS except -race.
func buildFerret() error {
	ferretBuildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "servicetest-ferretd-")
		if err != nil {
			ferretBuildErr = err
			return
		}
		ferretBinDir = dir
		ferretBin = filepath.Join(dir, "ferretd")
		cmd := exec.Command("go", "build", "-tags", "ferretd", "-o", ferretBin, ferretPkg)
		cmd.Env = append(os.Environ(), "GOFLAGS="+withoutRace(os.Getenv("GOFLAGS")))
		out, err := cmd.CombinedOutput()
		if err != nil {
			ferretBuildErr = fmt.Errorf("go build %s: %v\n%s", ferretPkg, err, out)
		}
	})
	return ferretBuildErr
}

// withoutRace drops -race (and -race=...) from a GOFLAGS value.
func withoutRace(goflags string) string {
	var keep []string
	for _, f := range strings.Fields(goflags) {
		if f == "-race" || f == "--race" || strings.HasPrefix(f, "-race=") || strings.HasPrefix(f, "--race=") {
			continue
		}
		keep = append(keep, f)
	}
	return strings.Join(keep, " ")
}

func (c *ferretChild) start(handler, pgURL string) error {
	if err := buildFerret(); err != nil {
		return err
	}
	args := []string{"-handler", handler, "-listen", "127.0.0.1:0"}
	if handler == FerretSQLite {
		dir, err := os.MkdirTemp("", "servicetest-ferretdb-")
		if err != nil {
			return fmt.Errorf("sqlite dir: %w", err)
		}
		ferretMu.Lock()
		c.dir = dir
		ferretMu.Unlock()
		args = append(args, "-sqlite-dir", dir)
	} else {
		db, dbURL, err := createPGDatabase(pgURL)
		if err != nil {
			return err
		}
		ferretMu.Lock()
		c.pgURL, c.pgDB = pgURL, db
		ferretMu.Unlock()
		args = append(args, "-postgresql-url", dbURL)
	}
	cmd := exec.Command(ferretBin, args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", ferretBin, err)
	}
	exit := make(chan struct{})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout) // never block the child on a full pipe
	}()
	go func() {
		_ = cmd.Wait()
		close(exit)
	}()
	ferretMu.Lock()
	c.cmd, c.stdin, c.exit = cmd, stdin, exit
	ferretMu.Unlock()

	select {
	case uri, ok := <-lines:
		if !ok {
			state := "still running"
			select {
			case <-exit:
				state = cmd.ProcessState.String()
			case <-time.After(10 * time.Second):
			}
			return fmt.Errorf("%s %s: no MongoDB URI on stdout (%s)", ferretBin, strings.Join(args, " "), state)
		}
		if !strings.HasPrefix(uri, "mongodb://") {
			return fmt.Errorf("%s %s: printed %q, not a MongoDB URI", ferretBin, strings.Join(args, " "), uri)
		}
		c.uri = uri
		return nil
	case <-time.After(ferretStartTimeout):
		return fmt.Errorf("%s: no MongoDB URI within %v", ferretBin, ferretStartTimeout)
	}
}

// StopFerretDB stops every FerretDB child FerretDB started (closing its
// stdin, then SIGTERM, then SIGKILL) and removes their files and the
// built command. Call it from TestMain after m.Run.
func StopFerretDB() error {
	ferretMu.Lock()
	defer ferretMu.Unlock()
	var errs []error
	for handler, c := range ferretChildren {
		if c.cmd != nil {
			_ = c.stdin.Close()
			select {
			case <-c.exit:
			case <-time.After(10 * time.Second):
				_ = c.cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-c.exit:
				case <-time.After(10 * time.Second):
					_ = c.cmd.Process.Kill()
					<-c.exit
					errs = append(errs, fmt.Errorf("FerretDB (%s) did not stop; killed", handler))
				}
			}
		}
		if c.dir != "" {
			if err := os.RemoveAll(c.dir); err != nil {
				errs = append(errs, err)
			}
		}
		if c.pgDB != "" {
			if err := dropPGDatabase(c.pgURL, c.pgDB); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if ferretBinDir != "" {
		if err := os.RemoveAll(ferretBinDir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
