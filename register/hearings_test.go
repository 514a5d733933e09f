package register

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/medsupply/customs/appeal"
)

// The hearings register keeps the first hearing of a refused run, returns it to every later
// call, and keeps it when reopened: on SQLite, and on PostgreSQL when one is given.
func TestHearingsRegister(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "releases.db")
		testHearings(t, func() hearingsStore {
			r, err := OpenSQLite(path)
			if err != nil {
				t.Fatal(err)
			}
			return r
		})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := postgresSchema(t)
		testHearings(t, func() hearingsStore {
			r, err := OpenPostgres(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			return r
		})
	})
}

type hearingsStore interface {
	appeal.HearingRegister
	Close() error
}

func testHearings(t *testing.T, open func() hearingsStore) {
	ctx := context.Background()
	r := open()
	if _, found, err := r.Heard(ctx, "run-refused"); err != nil || found {
		t.Fatalf("an empty register: found %v, %v", found, err)
	}
	first := appeal.Hearing{RefusedRunID: "run-refused", WorkflowID: "clearance-3205960330-JH-1", Appeal: "appeal-3205960330-JH-1",
		AppealRunID: "run-appeal-1", Outcome: appeal.OutcomeDismiss, Supervisor: "sup-huang",
		Decided: time.Date(2026, 12, 7, 9, 30, 0, 123456789, time.FixedZone("CST", 8*3600)), Reason: "the totals disagree"}
	got, err := r.Hear(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	want := first
	want.Decided = first.Decided.UTC().Truncate(time.Microsecond)
	if got != want {
		t.Errorf("recorded %+v, want %+v", got, want)
	}
	// A retry, or another appeal of the same refusal, finds the first hearing.
	second := first
	second.AppealRunID, second.Outcome, second.Supervisor = "run-appeal-2", appeal.OutcomeUphold, "sup-ma"
	if got, err := r.Hear(ctx, second); err != nil || got != want {
		t.Errorf("a second hearing of the run: %+v, %v; want the first, %+v", got, err, want)
	}
	if _, err := r.Hear(ctx, appeal.Hearing{WorkflowID: "clearance-x"}); err == nil {
		t.Error("a hearing without a refused run was recorded")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r = open()
	defer func() { _ = r.Close() }()
	if got, found, err := r.Heard(ctx, "run-refused"); err != nil || !found || got != want {
		t.Errorf("reopened: %+v, %v, %v; want %+v", got, found, err, want)
	}
	if _, found, err := r.Heard(ctx, "run-other"); err != nil || found {
		t.Errorf("another run: found %v, %v", found, err)
	}
}

// The register admits one appeal per refused run: a second appeal finds the first's claim, a
// retry finds its own, a takeover replaces only the stale claim it names, and the claims outlive
// the register's process; on SQLite, and on PostgreSQL when one is given.
func TestAdmissionsRegister(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "releases.db")
		testAdmissions(t, func() hearingsStore {
			r, err := OpenSQLite(path)
			if err != nil {
				t.Fatal(err)
			}
			return r
		})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := postgresSchema(t)
		testAdmissions(t, func() hearingsStore {
			r, err := OpenPostgres(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			return r
		})
	})
}

func admissionOf(runID string) appeal.Admission {
	return appeal.Admission{RefusedRunID: "run-refused", WorkflowID: "clearance-3205960330-JH-1", Appeal: "appeal-3205960330-JH-1",
		AppealRunID: runID, Admitted: time.Date(2026, 12, 7, 9, 30, 0, 123456789, time.FixedZone("CST", 8*3600))}
}

func testAdmissions(t *testing.T, open func() hearingsStore) {
	ctx := context.Background()
	r := open()
	first, second := admissionOf("run-appeal-1"), admissionOf("run-appeal-2")
	want := first
	want.Admitted = first.Admitted.UTC().Truncate(time.Microsecond)
	for _, tc := range []struct {
		name  string
		a     appeal.Admission
		stale string
	}{{"the first", first, ""}, {"a retry", first, ""}, {"a second appeal", second, ""}, {"a takeover of another claim", second, "run-appeal-9"}} {
		if got, err := r.Admit(ctx, tc.a, tc.stale); err != nil || got != want {
			t.Errorf("%s: %+v, %v; want the first claim %+v", tc.name, got, err, want)
		}
	}
	if _, err := r.Admit(ctx, appeal.Admission{AppealRunID: "run-appeal-3"}, ""); err == nil {
		t.Error("an admission without a refused run was recorded")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r = open()
	defer func() { _ = r.Close() }()
	took := second
	took.Admitted = second.Admitted.UTC().Truncate(time.Microsecond)
	if got, err := r.Admit(ctx, second, first.AppealRunID); err != nil || got != took {
		t.Errorf("reopened, a takeover of the first claim: %+v, %v; want %+v", got, err, took)
	}
	other := admissionOf("run-appeal-4")
	other.RefusedRunID = "run-refused-again"
	if got, err := r.Admit(ctx, other, ""); err != nil || got.AppealRunID != "run-appeal-4" {
		t.Errorf("another refused run: %+v, %v", got, err)
	}
}

// Appeals admitted at the same moment through two handles on one register (two workers) claim
// the refused run once: every caller reads the same claim, and it is one of theirs. Taking over a
// stale claim at the same moment, one takes it. On SQLite, and on PostgreSQL when one is given.
func TestConcurrentAdmissionsClaimOnce(t *testing.T) {
	twice := func(open func() (hearingsStore, error)) []appeal.HearingRegister {
		var handles []appeal.HearingRegister
		for range 2 {
			r, err := open()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = r.Close() })
			handles = append(handles, r)
		}
		return handles
	}
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "releases.db")
		testConcurrentAdmissions(t, twice(func() (hearingsStore, error) { return OpenSQLite(path) }))
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := postgresSchema(t)
		testConcurrentAdmissions(t, twice(func() (hearingsStore, error) { return OpenPostgres(context.Background(), dsn) }))
	})
}

func testConcurrentAdmissions(t *testing.T, handles []appeal.HearingRegister) {
	const appeals = 16
	for _, stale := range []string{"", "run-appeal-stale"} {
		refused := "run-refused-" + fmt.Sprint(stale != "")
		if stale != "" {
			a := admissionOf(stale)
			a.RefusedRunID = refused
			if _, err := handles[0].Admit(context.Background(), a, ""); err != nil {
				t.Fatal(err)
			}
		}
		held := make([]appeal.Admission, appeals)
		errs := make([]error, appeals)
		gate := make(chan struct{})
		var wg sync.WaitGroup
		for i := range appeals {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a := admissionOf(fmt.Sprintf("run-appeal-%d", i))
				a.RefusedRunID = refused
				<-gate
				held[i], errs[i] = handles[i%2].Admit(context.Background(), a, stale)
			}()
		}
		close(gate)
		wg.Wait()
		admitted := 0
		for i := range appeals {
			if errs[i] != nil {
				t.Fatalf("stale %q, appeal %d: %v", stale, i, errs[i])
			}
			if held[i] != held[0] {
				t.Errorf("stale %q: appeal %d reads the claim %+v, appeal 0 %+v", stale, i, held[i], held[0])
			}
			if held[i].AppealRunID == fmt.Sprintf("run-appeal-%d", i) {
				admitted++
			}
		}
		if admitted != 1 {
			t.Errorf("stale %q: %d appeals admitted, want 1 (the claim is %+v)", stale, admitted, held[0])
		}
	}
}
