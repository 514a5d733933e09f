package register

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/policy"
)

// store is what both registers offer.
type store interface {
	activities.ReleaseRegister
	activities.DeclarationRegister
	Get(ctx context.Context, exporterCode, declarationID string) (activities.ReleaseNotice, bool, error)
	Registered(ctx context.Context, exporterCode, declarationID string) (activities.Registered, bool, error)
}

var registrationNumber = regexp.MustCompile(`^ED-2026-[0-9]{8}$`)

// exerciseDeclarations runs the declarations register and the binding of notices on s.
func exerciseDeclarations(t *testing.T, s store) {
	t.Helper()
	ctx := context.Background()
	a := &activities.Activities{Now: func() time.Time { return fixedNow }, Declarations: s, Releases: s}
	env := newEnv(t, a)
	register := func(r activities.Registration) (activities.Registered, error) {
		v, err := env.ExecuteActivity(a.RegisterDeclaration, r)
		if err != nil {
			return activities.Registered{}, err
		}
		var reg activities.Registered
		return reg, v.Get(&reg)
	}

	first := activities.Registration{ExporterCode: "3301960412", DeclarationID: "LB-2020-DE-0415",
		WorkflowID: "clearance-3301960412-LB-2020-DE-0415", RunID: "run-1"}
	reg, err := register(first)
	if err != nil || !registrationNumber.MatchString(reg.Number) || !reg.LodgedAt.Equal(fixedNow) || reg.Registration != first {
		t.Fatalf("register = %+v, %v", reg, err)
	}
	// A retry of the same clearance gets the same entry, even later.
	a.Now = func() time.Time { return fixedNow.Add(time.Hour) }
	if again, err := register(first); err != nil || again != reg {
		t.Errorf("retry = %+v, %v; want %+v", again, err, reg)
	}
	// Another exporter's declaration under the same ID is a registration of its own.
	other := activities.Registration{ExporterCode: "3302960178", DeclarationID: "LB-2020-DE-0415",
		WorkflowID: "clearance-3302960178-LB-2020-DE-0415", RunID: "run-9"}
	otherReg, err := register(other)
	if err != nil || otherReg.Number == reg.Number || !registrationNumber.MatchString(otherReg.Number) {
		t.Errorf("another exporter's declaration: %+v, %v (first %s)", otherReg, err, reg.Number)
	}

	// The declaration released, then lodged again by a new clearance after the first is gone
	// from the server: refused, naming the registration and the notice.
	notice, err := s.Issue(ctx, activities.ReleaseRequest{ExporterCode: first.ExporterCode, DeclarationID: first.DeclarationID,
		Lane: policy.LaneGreen, WorkflowID: first.WorkflowID, RunID: first.RunID, Registration: reg.Number}, fixedNow)
	if err != nil || notice.Registration != reg.Number || notice.ExporterCode != first.ExporterCode {
		t.Fatalf("issue = %+v, %v", notice, err)
	}
	again := first
	again.RunID = "run-2"
	_, err = register(again)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != activities.ErrDuplicateDeclaration || !app.NonRetryable() ||
		!strings.Contains(app.Message(), reg.Number) || !strings.Contains(app.Message(), notice.Number) {
		t.Errorf("re-lodged after release: %v; want a non-retryable %s naming %s and %s", err, activities.ErrDuplicateDeclaration, reg.Number, notice.Number)
	}
	if got, found, err := s.Registered(ctx, first.ExporterCode, first.DeclarationID); err != nil || !found || got.RunID != "run-1" || got.Notice != notice.Number {
		t.Errorf("the entry after the refusal: %+v, %v, %v", got, found, err)
	}

	// The notice is bound to its clearance: a retry of it gets it, another run does not.
	if n, err := s.Issue(ctx, activities.ReleaseRequest{ExporterCode: first.ExporterCode, DeclarationID: first.DeclarationID,
		Lane: policy.LaneGreen, WorkflowID: first.WorkflowID, RunID: first.RunID}, fixedNow.Add(time.Minute)); err != nil || n != notice {
		t.Errorf("retried issue = %+v, %v; want %+v", n, err, notice)
	}
	if n, err := s.Issue(ctx, activities.ReleaseRequest{ExporterCode: first.ExporterCode, DeclarationID: first.DeclarationID,
		Lane: policy.LaneGreen, WorkflowID: first.WorkflowID, RunID: "run-2"}, fixedNow); err == nil || !strings.Contains(err.Error(), notice.Number) {
		t.Errorf("another run's issue = %+v, %v; want a refusal naming %s", n, err, notice.Number)
	}
	// Another exporter's declaration under the same ID gets its own notice.
	otherNotice, err := s.Issue(ctx, activities.ReleaseRequest{ExporterCode: other.ExporterCode, DeclarationID: other.DeclarationID,
		Lane: policy.LaneYellow, WorkflowID: other.WorkflowID, RunID: other.RunID}, fixedNow)
	if err != nil || otherNotice.Number == notice.Number {
		t.Errorf("another exporter's notice = %+v, %v (first %s)", otherNotice, err, notice.Number)
	}

	// Requests missing a part are refused, not retried.
	for _, bad := range []activities.Registration{{DeclarationID: "X", WorkflowID: "w", RunID: "r"}, {ExporterCode: "3301960412", WorkflowID: "w", RunID: "r"},
		{ExporterCode: "3301960412", DeclarationID: "X", RunID: "r"}, {ExporterCode: "3301960412", DeclarationID: "X", WorkflowID: "w"}} {
		_, err := register(bad)
		if !errors.As(err, &app) || app.Type() != activities.ErrInvalidDeclaration || !app.NonRetryable() {
			t.Errorf("register(%+v) = %v; want a non-retryable %s", bad, err, activities.ErrInvalidDeclaration)
		}
	}

	// A clearance whose workflow ID is not its declaration's is refused, naming the right one; the
	// legacy form is the declaration's.
	_, err = register(activities.Registration{ExporterCode: "3301960412", DeclarationID: "LB-2020-DE-0417",
		WorkflowID: "clearance-3302960178-LB-2020-DE-0417", RunID: "run-x"})
	if !errors.As(err, &app) || app.Type() != activities.ErrInvalidDeclaration || !app.NonRetryable() ||
		!strings.Contains(app.Message(), "which is clearance-3301960412-LB-2020-DE-0417") {
		t.Errorf("another declaration's workflow ID: %v", err)
	}
	if _, found, _ := s.Registered(ctx, "3301960412", "LB-2020-DE-0417"); found {
		t.Error("the refused registration was recorded")
	}
	if legacy, err := register(activities.Registration{ExporterCode: "3301960412", DeclarationID: "LB-2020-DE-0418",
		WorkflowID: "clearance-LB-2020-DE-0418", RunID: "run-l"}); err != nil || legacy.Number == "" {
		t.Errorf("a clearance under the legacy workflow ID: %+v, %v", legacy, err)
	}

	// Concurrent registrations of one declaration by one clearance leave one entry.
	const calls = 12
	regs := make([]activities.Registered, calls)
	errs := make([]error, calls)
	var wg sync.WaitGroup
	start := make(chan struct{})
	r := activities.Registration{ExporterCode: "4403960219", DeclarationID: "WK-2020-BE-0402", WorkflowID: "clearance-4403960219-WK-2020-BE-0402", RunID: "run-c"}
	for i := range calls {
		wg.Go(func() {
			<-start
			regs[i], errs[i] = s.Register(ctx, r, fixedNow.Add(time.Duration(i)*time.Millisecond))
		})
	}
	close(start)
	wg.Wait()
	for i := range calls {
		if errs[i] != nil || regs[i] != regs[0] {
			t.Errorf("concurrent call %d: %+v, %v; call 0: %+v", i, regs[i], errs[i], regs[0])
		}
	}
}

func TestDeclarationsRegister(t *testing.T) {
	exerciseDeclarations(t, openRegister(t, filepath.Join(t.TempDir(), "releases.db")))
}

func TestPostgresDeclarationsRegister(t *testing.T) {
	exerciseDeclarations(t, openPostgres(t, postgresSchema(t)))
}

// TestSQLiteRegisterOfAnEarlierRelease: a register file of the release that keyed notices by
// declaration ID alone opens with its notices kept, keyed by exporter and declaration, bound to
// no run (so the clearance that has one still gets it), and numbering goes on.
func TestSQLiteRegisterOfAnEarlierRelease(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "releases.db")
	old, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Exec(`
CREATE TABLE release_notices (declaration_id TEXT PRIMARY KEY, number TEXT NOT NULL UNIQUE, exporter_code TEXT NOT NULL,
	lane TEXT NOT NULL, officer TEXT NOT NULL DEFAULT '', issued_at TEXT NOT NULL);
CREATE TABLE sequences (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO sequences VALUES ('release-notice', 7);
INSERT INTO release_notices VALUES ('LC-2020-NL-0415', 'RN-2026-00000007', '3703960118', 'green', '', '2026-06-01T09:30:05Z');`); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 { // opening again changes nothing more
		r := openRegister(t, path)
		got, found, err := r.Get(ctx, "3703960118", "LC-2020-NL-0415")
		if err != nil || !found || got.Number != "RN-2026-00000007" || !got.IssuedAt.Equal(fixedNow) {
			t.Fatalf("the earlier notice: %+v, %v, %v", got, found, err)
		}
		if n, err := r.Issue(ctx, activities.ReleaseRequest{ExporterCode: "3703960118", DeclarationID: "LC-2020-NL-0415", Lane: policy.LaneGreen,
			WorkflowID: "clearance-LC-2020-NL-0415", RunID: "run-old"}, fixedNow); err != nil || n.Number != "RN-2026-00000007" {
			t.Errorf("the clearance that had the notice asks again: %+v, %v", n, err)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	r := openRegister(t, path)
	n, err := r.Issue(ctx, activities.ReleaseRequest{ExporterCode: "3205960330", DeclarationID: "JH-2020-US-0512", Lane: policy.LaneYellow}, fixedNow)
	if err != nil || n.Number != "RN-2026-00000008" {
		t.Errorf("the next notice: %+v, %v", n, err)
	}
}

// TestPostgresRegisterOfAnEarlierRelease: the same for a PostgreSQL register, where the table is
// altered in place.
func TestPostgresRegisterOfAnEarlierRelease(t *testing.T) {
	ctx := context.Background()
	dsn := postgresSchema(t)
	old, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`CREATE SEQUENCE release_notice_numbers AS bigint MINVALUE 1 NO CYCLE`,
		`SELECT setval('release_notice_numbers', 7)`,
		`CREATE TABLE release_notices (declaration_id text PRIMARY KEY, number text NOT NULL UNIQUE, exporter_code text NOT NULL,
	lane text NOT NULL, officer text NOT NULL DEFAULT '', issued_at timestamptz NOT NULL)`,
		`INSERT INTO release_notices VALUES ('LC-2020-NL-0415', 'RN-2026-00000007', '3703960118', 'green', '', '2026-06-01T09:30:05Z')`,
	} {
		if _, err := old.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		r := openPostgres(t, dsn)
		got, found, err := r.Get(ctx, "3703960118", "LC-2020-NL-0415")
		if err != nil || !found || got.Number != "RN-2026-00000007" || !got.IssuedAt.Equal(fixedNow) {
			t.Fatalf("the earlier notice: %+v, %v, %v", got, found, err)
		}
	}
	r := openPostgres(t, dsn)
	// Keyed by exporter now: another exporter's declaration with the same ID gets its own.
	n, err := r.Issue(ctx, activities.ReleaseRequest{ExporterCode: "3205960330", DeclarationID: "LC-2020-NL-0415", Lane: policy.LaneYellow}, fixedNow)
	if err != nil || n.Number != "RN-2026-00000008" {
		t.Errorf("another exporter's notice under the same ID: %+v, %v", n, err)
	}
}
