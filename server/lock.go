package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockFileName is the lock in the data directory that keeps a second knot
// process off the same database file (two SQLite writers on one file work,
// but two servers each sweeping, migrating and leaf-syncing it do not).
const lockFileName = "knot.lock"

// dataLock is a held lock on the data directory.
type dataLock struct{ f *os.File }

// lockDataDir takes the data directory's lock, or says which process
// holds it. The operating system drops the lock when the process ends, so
// a crash never leaves a stale lock behind.
func lockDataDir(dir, dbPath string) (*dataLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := "another process"
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
				holder = fmt.Sprintf("another knot process (pid %d)", pid)
			}
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("the database %s is in use by %s, which holds %s; stop it first, or give this server its own server.sqlite.path", dbPath, holder, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0) //nolint:errcheck // the pid only makes the message nicer
	}
	return &dataLock{f: f}, nil
}

// release drops the lock.
func (l *dataLock) release() {
	if l == nil || l.f == nil {
		return
	}
	syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing releases it anyway
	l.f.Close()
	l.f = nil
}
