//go:build !unix

package embedded

// dirLock does nothing where flock is missing; the caller must not start two servers on one
// directory.
type dirLock struct{}

func lockDir(string) (*dirLock, error) { return &dirLock{}, nil }

func (*dirLock) release() error { return nil }
