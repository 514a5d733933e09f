package activities

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/medsupply/customs/policy"
)

func openRegister(t *testing.T, path string) *SQLiteReleaseRegister {
	t.Helper()
	r, err := OpenReleaseRegister(path)
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

// issueNotice runs IssueReleaseNotice in the activity environment and returns its notice.
func issueNotice(t *testing.T, env *testsuite.TestActivityEnvironment, a *Activities, r ReleaseRequest) ReleaseNotice {
	t.Helper()
	val, err := env.ExecuteActivity(a.IssueReleaseNotice, r)
	if err != nil {
		t.Fatal(err)
	}
	var n ReleaseNotice
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
	req := ReleaseRequest{DeclarationID: "NBKR-2020-000331", ExporterCode: "3302960178", Lane: policy.LaneGreen}

	issue := func(r ReleaseRequest) ReleaseNotice { return issueNotice(t, env, a, r) }
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
	got, found, err := reg.Get(ctx, req.DeclarationID)
	if err != nil || !found || got != first {
		t.Errorf("Get = %+v, %v, %v", got, found, err)
	}

	// The next declaration gets the next number.
	second := issue(ReleaseRequest{DeclarationID: "YJ-2020-IT-0427", ExporterCode: "3302960543", Lane: policy.LaneGreen})
	if second.Number == first.Number || second.Number != "RN-2026-00000002" {
		t.Errorf("second notice = %s after %s", second.Number, first.Number)
	}
	if _, found, err := reg.Get(ctx, "nothing-released"); err != nil || found {
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
	notices := make([]ReleaseNotice, calls)
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
			notices[i], errs[i] = r.Issue(ctx, ReleaseRequest{DeclarationID: "WK-2020-BE-0402", ExporterCode: "4403960219",
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
	r, err := OpenReleaseRegister(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := r.Issue(ctx, ReleaseRequest{DeclarationID: "LC-2020-NL-0415", ExporterCode: "3703960118", Lane: policy.LaneGreen}, fixedNow)
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
	got, found, err := r2.Get(ctx, "LC-2020-NL-0415")
	if err != nil || !found || got != n {
		t.Fatalf("after reopening: %+v, %v, %v; want %+v", got, found, err, n)
	}
	var mode string
	if err := r2.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v", mode, err)
	}
	next, err := r2.Issue(ctx, ReleaseRequest{DeclarationID: "JH-2020-US-0512", ExporterCode: "3205960330", Lane: policy.LaneYellow}, fixedNow)
	if err != nil || next.Number != "RN-2026-00000002" {
		t.Errorf("next after reopening = %+v, %v", next, err)
	}
}

func TestIssueReleaseNoticeRefusesBadRequest(t *testing.T) {
	a := newActivities(t)
	a.Releases = openRegister(t, filepath.Join(t.TempDir(), "releases.db"))
	for _, r := range []ReleaseRequest{
		{ExporterCode: "3302960178", Lane: policy.LaneGreen},
		{DeclarationID: "NBKR-2020-000331", ExporterCode: "3302960178", Lane: "blue"},
	} {
		_, err := newEnv(t, a).ExecuteActivity(a.IssueReleaseNotice, r)
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || appErr.Type() != ErrInvalidDeclaration || !appErr.NonRetryable() {
			t.Errorf("%+v: err = %v, want a non-retryable %s", r, err, ErrInvalidDeclaration)
		}
	}
	if _, err := OpenReleaseRegister("releases.db?mode=ro"); err == nil {
		t.Error("a path with a query was accepted")
	}
}

func TestFileNotifier(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notifications.jsonl")
	fn, err := OpenFileNotifier(path)
	if err != nil {
		t.Fatal(err)
	}
	a := newActivities(t)
	a.Notifier = fn
	env := newEnv(t, a)
	due := time.Date(2026, 6, 6, 9, 30, 0, 0, time.UTC)
	sent := []Notification{
		{DeclarationID: "RW-2020-US-0506", ExporterCode: "4403960602", Kind: NotifyInformationRequest,
			Message: "Attach the manufacturer's quality declaration", Due: due},
		{DeclarationID: "RW-2020-US-0506", ExporterCode: "4403960602", Kind: NotifyReleased,
			Message: "Declaration RW-2020-US-0506 released", Notice: "RN-2026-00000007"},
		{DeclarationID: "HX-2020-ES-0428", ExporterCode: "4419960731", Kind: NotifyRefused,
			Message: "CE certificate ECM 2020-03-0417: 1282 is not notified under the PPE Regulation"},
	}
	for _, n := range sent {
		if _, err := env.ExecuteActivity(a.NotifyExporter, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := fn.Close(); err != nil {
		t.Fatal(err)
	}

	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(content))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q is not a JSON object: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(lines) != len(sent) {
		t.Fatalf("%d lines for %d notifications", len(lines), len(sent))
	}
	for i, n := range sent {
		m := lines[i]
		if m["declarationId"] != n.DeclarationID || m["kind"] != string(n.Kind) || m["message"] != n.Message || m["at"] == nil {
			t.Errorf("line %d = %v, want %+v", i, m, n)
		}
	}
	if lines[0]["due"] != "2026-06-06T09:30:00Z" || lines[1]["notice"] != "RN-2026-00000007" {
		t.Errorf("due and notice: %v, %v", lines[0], lines[1])
	}
	if _, ok := lines[1]["due"]; ok {
		t.Error("a notification without deadline carries one")
	}

	// Reopening appends.
	fn, err = OpenFileNotifier(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := fn.Notify(context.Background(), sent[0]); err != nil {
		t.Fatal(err)
	}
	if err := fn.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fn.Notify(context.Background(), sent[0]); err == nil {
		t.Error("a closed notifier accepted a notification")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(regexp.MustCompile("\n").FindAllIndex(b, -1)); n != len(sent)+1 {
		t.Errorf("%d lines after reopening, want %d", n, len(sent)+1)
	}
}

func TestLogNotifier(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	a := newActivities(t)
	a.Notifier = LogNotifier{Logger: zap.New(core)}
	n := Notification{DeclarationID: "NBKR-2020-000331", ExporterCode: "3302960178", Kind: NotifyReleased,
		Message: "released", Notice: "RN-2026-00000001"}
	if _, err := newEnv(t, a).ExecuteActivity(a.NotifyExporter, n); err != nil {
		t.Fatal(err)
	}
	entries := logs.FilterField(zap.String("declarationID", n.DeclarationID)).All()
	if len(entries) != 1 || entries[0].ContextMap()["notice"] != n.Notice {
		t.Fatalf("log entries = %+v", logs.All())
	}

	// Without a notifier the activity logs through the activity logger.
	b := newActivities(t)
	if _, err := newEnv(t, b).ExecuteActivity(b.NotifyExporter, n); err != nil {
		t.Fatal(err)
	}

	_, err := newEnv(t, a).ExecuteActivity(a.NotifyExporter, Notification{Kind: NotifyReleased})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != ErrInvalidDeclaration || !appErr.NonRetryable() {
		t.Errorf("err = %v, want a non-retryable %s", err, ErrInvalidDeclaration)
	}
}
