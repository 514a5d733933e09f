package auth

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Revocations is a file of revoked subjects, one per line ("#" starts a comment), read again
// whenever it changes (looked at once a second), so a revoked identity is refused from its next
// call although its token has not expired. A missing file revokes nobody.
type Revocations struct {
	Path string
	// Every is how often the file is looked at; zero means once a second.
	Every time.Duration

	mu      sync.Mutex
	checked time.Time
	mod     time.Time
	size    int64
	subject map[string]bool
	err     error
}

// RevocationsPath is where the embedded default keeps its revocations, under its data directory.
func RevocationsPath(dataDir string) string { return filepath.Join(dataDir, "auth", "revoked") }

// Revoked reports whether subject is revoked. An unreadable file revokes everybody, since it
// cannot say who is not.
func (r *Revocations) Revoked(subject string) (bool, error) {
	if r == nil || r.Path == "" {
		return false, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	every := r.Every
	if every == 0 {
		every = time.Second
	}
	if now.Sub(r.checked) >= every || r.subject == nil {
		r.checked = now
		r.reload()
	}
	if r.err != nil {
		return true, r.err
	}
	return r.subject[subject], nil
}

func (r *Revocations) reload() {
	st, err := os.Stat(r.Path)
	if errors.Is(err, os.ErrNotExist) {
		r.subject, r.err = map[string]bool{}, nil
		return
	}
	if err != nil {
		r.err = err
		return
	}
	if r.subject != nil && r.err == nil && st.ModTime().Equal(r.mod) && st.Size() == r.size {
		return
	}
	b, err := os.ReadFile(r.Path)
	if err != nil {
		r.err = err
		return
	}
	subjects := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if s := strings.TrimSpace(line); s != "" {
			subjects[s] = true
		}
	}
	if err := sc.Err(); err != nil {
		r.err = fmt.Errorf("%s: %w", r.Path, err)
		return
	}
	r.subject, r.err, r.mod, r.size = subjects, nil, st.ModTime(), st.Size()
}

// Revoke adds subject to the file.
func (r *Revocations) Revoke(subject string) error {
	if strings.ContainsAny(subject, "\n#") || strings.TrimSpace(subject) == "" {
		return fmt.Errorf("subject %q cannot be revoked: empty, or holds a newline or #", subject)
	}
	f, err := os.OpenFile(r.Path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(f, subject)
	return errors.Join(err, f.Close())
}
