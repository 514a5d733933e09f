package register

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/medsupply/customs/appeal"
)

var (
	_ appeal.HearingRegister = (*SQLite)(nil)
	_ appeal.HearingRegister = (*Postgres)(nil)
)

// The hearings table: one row per refused run that an appeal was heard against; and the
// admissions table: one row per refused run that an appeal was admitted against, the claim that
// lets one appeal of a refused run be admitted, whatever arrives at the same moment.
const (
	sqliteHearingsSchema = `
CREATE TABLE IF NOT EXISTS appeal_admissions (
	refused_run_id TEXT PRIMARY KEY,
	workflow_id    TEXT NOT NULL,
	appeal_id      TEXT NOT NULL,
	appeal_run_id  TEXT NOT NULL,
	admitted_at    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS appeal_hearings (
	refused_run_id TEXT PRIMARY KEY,
	workflow_id    TEXT NOT NULL,
	appeal_id      TEXT NOT NULL,
	appeal_run_id  TEXT NOT NULL,
	outcome        TEXT NOT NULL,
	supervisor     TEXT NOT NULL,
	decided_at     TEXT NOT NULL,
	reason         TEXT NOT NULL
);
`
	postgresHearingsSchema = `CREATE TABLE IF NOT EXISTS appeal_hearings (
	refused_run_id text PRIMARY KEY,
	workflow_id    text NOT NULL,
	appeal_id      text NOT NULL,
	appeal_run_id  text NOT NULL,
	outcome        text NOT NULL,
	supervisor     text NOT NULL,
	decided_at     timestamptz NOT NULL,
	reason         text NOT NULL
)`
	postgresAdmissionsSchema = `CREATE TABLE IF NOT EXISTS appeal_admissions (
	refused_run_id text PRIMARY KEY,
	workflow_id    text NOT NULL,
	appeal_id      text NOT NULL,
	appeal_run_id  text NOT NULL,
	admitted_at    timestamptz NOT NULL
)`
)

// Hear records that an appeal was heard against h's refused run, and returns the hearing the
// register holds for it: h, or the one recorded first (a retry, or another appeal's).
func (s *SQLite) Hear(ctx context.Context, h appeal.Hearing) (appeal.Hearing, error) {
	return hear(ctx, s.db, sqliteDialect, h)
}

// Heard returns the hearing of a refused run, if an appeal was heard against it.
func (s *SQLite) Heard(ctx context.Context, refusedRunID string) (appeal.Hearing, bool, error) {
	return heard(ctx, s.db, sqliteDialect, refusedRunID)
}

// Hear records that an appeal was heard against h's refused run, and returns the hearing the
// register holds for it: h, or the one recorded first (a retry, or another appeal's).
func (p *Postgres) Hear(ctx context.Context, h appeal.Hearing) (appeal.Hearing, error) {
	return hear(ctx, p.db, postgresDialect, h)
}

// Heard returns the hearing of a refused run, if an appeal was heard against it.
func (p *Postgres) Heard(ctx context.Context, refusedRunID string) (appeal.Hearing, bool, error) {
	return heard(ctx, p.db, postgresDialect, refusedRunID)
}

// Admit claims a's refused run for a's appeal run, or with stale set takes over the claim of
// appeal run stale, and returns the admission the register holds for the run: a, or another
// appeal's.
func (s *SQLite) Admit(ctx context.Context, a appeal.Admission, stale string) (appeal.Admission, error) {
	return admit(ctx, s.db, sqliteDialect, a, stale)
}

// Admit claims a's refused run for a's appeal run, or with stale set takes over the claim of
// appeal run stale, and returns the admission the register holds for the run: a, or another
// appeal's.
func (p *Postgres) Admit(ctx context.Context, a appeal.Admission, stale string) (appeal.Admission, error) {
	return admit(ctx, p.db, postgresDialect, a, stale)
}

// admit takes the claim in one statement each way, which the primary key makes atomic: an insert
// that does nothing when the run is claimed, or an update that changes only stale's claim, so
// of concurrent callers one claims the run and the others read its claim.
func admit(ctx context.Context, db execer, d dialect, a appeal.Admission, stale string) (appeal.Admission, error) {
	if a.RefusedRunID == "" || a.AppealRunID == "" {
		return appeal.Admission{}, errors.New("admit the appeal: no refused run or appeal run")
	}
	at := d.timeArg(a.Admitted.UTC().Truncate(time.Microsecond))
	if stale != "" {
		if _, err := db.ExecContext(ctx, d.q(`UPDATE appeal_admissions SET workflow_id = ?, appeal_id = ?, appeal_run_id = ?, admitted_at = ?
	WHERE refused_run_id = ? AND appeal_run_id = ?`), a.WorkflowID, a.Appeal, a.AppealRunID, at, a.RefusedRunID, stale); err != nil {
			return appeal.Admission{}, fmt.Errorf("take over the admission against run %s of %s: %w", a.RefusedRunID, a.WorkflowID, err)
		}
	}
	if _, err := db.ExecContext(ctx, d.q(`INSERT INTO appeal_admissions (refused_run_id, workflow_id, appeal_id, appeal_run_id, admitted_at)
	VALUES (?, ?, ?, ?, ?) ON CONFLICT (refused_run_id) DO NOTHING`), a.RefusedRunID, a.WorkflowID, a.Appeal, a.AppealRunID, at); err != nil {
		return appeal.Admission{}, fmt.Errorf("admit the appeal against run %s of %s: %w", a.RefusedRunID, a.WorkflowID, err)
	}
	var held appeal.Admission
	err := db.QueryRowContext(ctx, d.q(`SELECT refused_run_id, workflow_id, appeal_id, appeal_run_id, admitted_at
	FROM appeal_admissions WHERE refused_run_id = ?`), a.RefusedRunID).
		Scan(&held.RefusedRunID, &held.WorkflowID, &held.Appeal, &held.AppealRunID, scanTime{d, &held.Admitted})
	if err != nil {
		return appeal.Admission{}, fmt.Errorf("read the admission against run %s: %w", a.RefusedRunID, err)
	}
	return held, nil
}

func hear(ctx context.Context, db execer, d dialect, h appeal.Hearing) (appeal.Hearing, error) {
	if h.RefusedRunID == "" {
		return appeal.Hearing{}, errors.New("record hearing: no refused run")
	}
	if _, err := db.ExecContext(ctx, d.q(`INSERT INTO appeal_hearings
	(refused_run_id, workflow_id, appeal_id, appeal_run_id, outcome, supervisor, decided_at, reason)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (refused_run_id) DO NOTHING`),
		h.RefusedRunID, h.WorkflowID, h.Appeal, h.AppealRunID, h.Outcome, h.Supervisor, d.timeArg(h.Decided.UTC().Truncate(time.Microsecond)), h.Reason); err != nil {
		return appeal.Hearing{}, fmt.Errorf("record the hearing of run %s of %s: %w", h.RefusedRunID, h.WorkflowID, err)
	}
	stored, found, err := heard(ctx, db, d, h.RefusedRunID)
	if err == nil && !found {
		err = fmt.Errorf("hearing of run %s neither recorded nor found", h.RefusedRunID)
	}
	return stored, err
}

func heard(ctx context.Context, q queryer, d dialect, refusedRunID string) (appeal.Hearing, bool, error) {
	var h appeal.Hearing
	err := q.QueryRowContext(ctx, d.q(`SELECT refused_run_id, workflow_id, appeal_id, appeal_run_id, outcome, supervisor, decided_at, reason
	FROM appeal_hearings WHERE refused_run_id = ?`), refusedRunID).
		Scan(&h.RefusedRunID, &h.WorkflowID, &h.Appeal, &h.AppealRunID, &h.Outcome, &h.Supervisor, scanTime{d, &h.Decided}, &h.Reason)
	if errors.Is(err, sql.ErrNoRows) {
		return appeal.Hearing{}, false, nil
	}
	if err != nil {
		return appeal.Hearing{}, false, fmt.Errorf("read the hearing of run %s: %w", refusedRunID, err)
	}
	return h, true, nil
}
