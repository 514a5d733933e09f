//go:build unix

package embedded

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// dirLock is an exclusive lock on a data directory, held while a server runs on it: two servers
// on one SQLite database would each believe they own its history shard.
type dirLock struct{ f *os.File }

const lockFile = "temporal.lock"

func lockDir(dir string) (*dirLock, error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("embedded server: lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			err = fmt.Errorf("embedded server: %s is in use by another server", dir)
		} else {
			err = fmt.Errorf("embedded server: lock %s: %w", path, err)
		}
		return nil, errors.Join(err, f.Close())
	}
	return &dirLock{f: f}, nil
}

// release drops the lock; closing the file releases it.
func (l *dirLock) release() error { return l.f.Close() }
