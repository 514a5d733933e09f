package register

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/policy"
)

func openRegister(t *testing.T, path string) *SQLite {
	t.Helper()
	r, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

// fixedNow is the clock of the tests' activities.
var fixedNow = time.Date(2026, 6, 1, 9, 30, 5, 0, time.UTC)

// newActivities returns activities whose clock is fixedNow; each test gives them its register.
func newActivities(*testing.T) *activities.Activities {
	return &activities.Activities{Now: func() time.Time { return fixedNow }}
}

func newEnv(t *testing.T, a *activities.Activities) *testsuite.TestActivityEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	return env
}

// issueNotice runs IssueReleaseNotice in the activity environment and returns its notice.
func issueNotice(t *testing.T, env *testsuite.TestActivityEnvironment, a *activities.Activities, r activities.ReleaseRequest) activities.ReleaseNotice {
	t.Helper()
	val, err := env.ExecuteActivity(a.IssueReleaseNotice, r)
	if err != nil {
		t.Fatal(err)
	}
	var n activities.ReleaseNotice
	if err := val.Get(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

var noticeNumber = regexp.MustCompile(`^RN-2026-[0-9]{8}$`)

func TestIssueReleaseNoticeOnce(t *testing.T) {
	ctx := context.Background()
	reg := openRegister(t, filepath.Join(t.TempDir(), "releases.db"))
	a := newActivities(t)
	a.Releases = reg
	env := newEnv(t, a)
	req := activities.ReleaseRequest{DeclarationID: "NBKR-2020-000331", ExporterCode: "3302960178", Lane: policy.LaneGreen}

	issue := func(r activities.ReleaseRequest) activities.ReleaseNotice { return issueNotice(t, env, a, r) }
	first := issue(req)
	if !noticeNumber.MatchString(first.Number) || first.DeclarationID != req.DeclarationID || !first.IssuedAt.Equal(fixedNow) {
		t.Fatalf("notice = %+v", first)
	}

	// A retry, even one that arrives later and names an officer, gets the same notice.
	a.Now = func() time.Time { return fixedNow.Add(time.Hour) }
	req.Officer = "rel-zhou"
	if again := issue(req); again != first {
		t.Errorf("retry = %+v, want %+v", again, first)
	}
	if n, err := reg.Count(ctx); err != nil || n != 1 {
		t.Errorf("Count = %d, %v; want 1", n, err)
	}
	got, found, err := reg.Get(ctx, req.ExporterCode, req.DeclarationID)
	if err != nil || !found || got != first {
		t.Errorf("Get = %+v, %v, %v", got, found, err)
	}

	// The next declaration gets the next number.
	second := issue(activities.ReleaseRequest{DeclarationID: "YJ-2020-IT-0427", ExporterCode: "3302960543", Lane: policy.LaneGreen})
	if second.Number == first.Number || second.Number != "RN-2026-00000002" {
		t.Errorf("second notice = %s after %s", second.Number, first.Number)
	}
	if _, found, err := reg.Get(ctx, "3302960178", "nothing-released"); err != nil || found {
		t.Errorf("Get(unknown) = %v, %v", found, err)
	}
}

func TestReleaseRegisterConcurrent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "releases.db")
	reg := openRegister(t, path)
	// A second handle on the same file stands for a second worker process.
	other := openRegister(t, path)

	const calls = 20
	notices := make([]activities.ReleaseNotice, calls)
	errs := make([]error, calls)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range calls {
		r := reg
		if i%2 == 1 {
			r = other
		}
		wg.Go(func() {
			<-start
			notices[i], errs[i] = r.Issue(ctx, activities.ReleaseRequest{DeclarationID: "WK-2020-BE-0402", ExporterCode: "4403960219",
				Lane: policy.LaneRed, Officer: "rel-wu"}, fixedNow.Add(time.Duration(i)*time.Millisecond))
		})
	}
	close(start)
	wg.Wait()
	for i := range calls {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if notices[i] != notices[0] {
			t.Errorf("call %d got %+v, call 0 got %+v", i, notices[i], notices[0])
		}
	}
	if n, err := reg.Count(ctx); err != nil || n != 1 {
		t.Fatalf("Count = %d, %v; want exactly one notice", n, err)
	}
	if notices[0].Number != "RN-2026-00000001" {
		t.Errorf("number = %s", notices[0].Number)
	}
}

func TestReleaseRegisterPersists(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "releases.db")
	r, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := r.Issue(ctx, activities.ReleaseRequest{DeclarationID: "LC-2020-NL-0415", ExporterCode: "3703960118", Lane: policy.LaneGreen}, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}

	r2 := openRegister(t, path)
	got, found, err := r2.Get(ctx, "3703960118", "LC-2020-NL-0415")
	if err != nil || !found || got != n {
		t.Fatalf("after reopening: %+v, %v, %v; want %+v", got, found, err, n)
	}
	var mode string
	if err := r2.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v", mode, err)
	}
	next, err := r2.Issue(ctx, activities.ReleaseRequest{DeclarationID: "JH-2020-US-0512", ExporterCode: "3205960330", Lane: policy.LaneYellow}, fixedNow)
	if err != nil || next.Number != "RN-2026-00000002" {
		t.Errorf("next after reopening = %+v, %v", next, err)
	}
}

func TestIssueReleaseNoticeRefusesBadRequest(t *testing.T) {
	a := newActivities(t)
	a.Releases = openRegister(t, filepath.Join(t.TempDir(), "releases.db"))
	for _, r := range []activities.ReleaseRequest{
		{ExporterCode: "3302960178", Lane: policy.LaneGreen},
		{DeclarationID: "NBKR-2020-000331", ExporterCode: "3302960178", Lane: "blue"},
	} {
		_, err := newEnv(t, a).ExecuteActivity(a.IssueReleaseNotice, r)
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || appErr.Type() != activities.ErrInvalidDeclaration || !appErr.NonRetryable() {
			t.Errorf("%+v: err = %v, want a non-retryable %s", r, err, activities.ErrInvalidDeclaration)
		}
	}
	if _, err := OpenSQLite("releases.db?mode=ro"); err == nil {
		t.Error("a path with a query was accepted")
	}
}

// Workers started together open one fresh register at once: each waits its turn to create it
// (busy_timeout), none fails with "database is locked".
func TestOpenSQLiteTogether(t *testing.T) {
	for round := range 20 {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("releases-%d.db", round))
		const openers = 6
		errs := make(chan error, openers)
		start := make(chan struct{})
		for range openers {
			go func() {
				<-start
				r, err := OpenSQLite(path)
				if err == nil {
					err = r.Close()
				}
				errs <- err
			}()
		}
		close(start)
		for range openers {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
}
