package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockFileName is the file in DATA_DIR an engine holds locked for its
// whole life.
const lockFileName = "engine.lock"

// errDataDirInUse means another engine holds DATA_DIR.
var errDataDirInUse = errors.New("is in use by another engine")

// dataDirLock is the exclusive lock of one engine on its DATA_DIR: two
// engines on one SQLite database would both drain the inbox and the
// outbox. It is an flock(2) on DATA_DIR/engine.lock, so the kernel releases
// it when the process ends, however it ends; the file keeps the holder's
// pid for the message a second engine prints.
type dataDirLock struct {
	f *os.File
}

// lockDataDir creates dir if needed and takes its lock without waiting: a
// held lock is errDataDirInUse, naming the directory and the holder's pid.
func lockDataDir(dir string) (*dataDirLock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create DATA_DIR %s: %w", dir, err)
	}
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open the lock of DATA_DIR %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := readHolder(f)
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("DATA_DIR %s %w%s; stop it or give this engine its own DATA_DIR", dir, errDataDirInUse, holder)
		}
		return nil, fmt.Errorf("lock DATA_DIR %s: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &dataDirLock{f: f}, nil
}

// readHolder returns " (pid N)" from the lock file, or "" when it names
// no pid.
func readHolder(f *os.File) string {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil || pid <= 0 {
		return ""
	}
	return fmt.Sprintf(" (pid %d)", pid)
}

// release unlocks and closes; safe on nil and twice.
func (l *dataDirLock) release() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
	l.f = nil
}
