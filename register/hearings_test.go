package register

import (
	"context"
	"path/filepath"
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
