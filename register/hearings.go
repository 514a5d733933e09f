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

// The hearings table: one row per refused run that an appeal was heard against.
const (
	sqliteHearingsSchema = `
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
