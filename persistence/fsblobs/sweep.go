package fsblobs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// SweepReport says what a Sweep did.
type SweepReport struct {
	// TempRemoved counts temporary files of Puts that died.
	TempRemoved int
	// HiddenRestored counts bytes a Release hid and did not finish with.
	HiddenRestored int
}

// Sweep tidies the leaf directories after a crash. A temporary file no
// live Put holds (every Put keeps an exclusive lock on its file until it
// is renamed into place, and the lock dies with the process) is removed.
// Bytes hidden by a Release are put back under their digest: the Release
// may have died before seeing that a record needs them, and bytes kept
// too long are only wasted space, while bytes removed too early are a
// lost attachment. Open runs it; it is safe beside running Puts and
// Releases, of this process or another.
func (s *Store) Sweep() (SweepReport, error) {
	var rep SweepReport
	var errs []error
	tops, err := os.ReadDir(s.root)
	if err != nil {
		return rep, fmt.Errorf("sweep %s: %w", s.root, err)
	}
	for _, top := range tops {
		if !top.IsDir() || !isHexPair(top.Name()) {
			continue
		}
		mids, err := os.ReadDir(filepath.Join(s.root, top.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, mid := range mids {
			if !mid.IsDir() || !isHexPair(mid.Name()) {
				continue
			}
			if err := s.sweepLeaf(filepath.Join(s.root, top.Name(), mid.Name()), &rep); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return rep, fmt.Errorf("sweep %s: %w", s.root, err)
	}
	return rep, nil
}

func (s *Store) sweepLeaf(dir string, rep *SweepReport) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, tempPrefix):
			removed, err := removeIfAbandoned(filepath.Join(dir, name))
			if err != nil {
				errs = append(errs, err)
			}
			if removed {
				rep.TempRemoved++
			}
		case strings.HasPrefix(name, hiddenPrefix):
			rel, err := filepath.Rel(s.root, filepath.Join(dir, name))
			if err != nil {
				errs = append(errs, err)
				continue
			}
			path, sha, err := s.hiddenPath(filepath.ToSlash(rel))
			if err != nil {
				continue // not ours: leave it
			}
			if err := os.Rename(path, s.path(sha)); err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					errs = append(errs, err)
				}
				continue
			}
			rep.HiddenRestored++
		}
	}
	return errors.Join(errs...)
}

// removeIfAbandoned removes a temporary file when no Put holds its lock.
func removeIfAbandoned(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // renamed into place or removed meanwhile
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	free, err := tryLockFile(f)
	if err != nil || !free {
		return false, err
	}
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

func isHexPair(name string) bool {
	return len(name) == 2 && strings.Trim(name, "0123456789abcdef") == ""
}

// randomName is prefix followed by 16 random hex digits.
func randomName(prefix string) (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return prefix + hex.EncodeToString(b), nil
}
