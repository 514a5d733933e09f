// Package register keeps the engine's own durable records: the declarations register, one entry
// per exporter's declaration with the registration number customs gave it at acceptance, the
// release register, one release notice per exporter's declaration, bound to the clearance that
// was released, and the appeal admissions and hearings, one of each per refused run an appeal
// was admitted and heard against. All live in a SQLite file on one machine (SQLite) or in
// PostgreSQL for a cluster (Postgres), and outlive the server's retention of the clearances. Only
// the worker links it: the exporter's and officers' commands are clients.
package register

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" driver, pure Go
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/medsupply/customs/activities"
)

// chinaTime is China Standard Time: a notice's number carries the year of issue there.
var chinaTime = time.FixedZone("CST", 8*60*60)

// SQLite is a release register in a SQLite file (WAL journal, full sync). Notice
// numbers come from a sequence that never repeats: RN-<year>-<eight digits>, the year being
// the year of issue in China Standard Time. It is safe for concurrent use, also by several
// processes sharing the file: each issue is one IMMEDIATE transaction, which SQLite
// serialises.
type SQLite struct {
	db   *sql.DB
	path string
}

var (
	_ activities.ReleaseRegister     = (*SQLite)(nil)
	_ activities.DeclarationRegister = (*SQLite)(nil)
)

// releaseSchema is the register's schema. A release notice is keyed by exporter and declaration
// ID, as declarations are; workflow_id and run_id bind it to the clearance released, and are
// empty for notices issued before notices were bound.
const releaseSchema = `
CREATE TABLE IF NOT EXISTS release_notices (
	exporter_code  TEXT NOT NULL,
	declaration_id TEXT NOT NULL,
	number         TEXT NOT NULL UNIQUE,
	lane           TEXT NOT NULL,
	officer        TEXT NOT NULL DEFAULT '',
	issued_at      TEXT NOT NULL,
	workflow_id    TEXT NOT NULL DEFAULT '',
	run_id         TEXT NOT NULL DEFAULT '',
	registration   TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (exporter_code, declaration_id)
);
CREATE TABLE IF NOT EXISTS declarations (
	exporter_code  TEXT NOT NULL,
	declaration_id TEXT NOT NULL,
	number         TEXT NOT NULL UNIQUE,
	workflow_id    TEXT NOT NULL,
	run_id         TEXT NOT NULL,
	lodged_at      TEXT NOT NULL,
	PRIMARY KEY (exporter_code, declaration_id)
);
CREATE TABLE IF NOT EXISTS sequences (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
);
INSERT INTO sequences (name, value) VALUES ('release-notice', 0) ON CONFLICT (name) DO NOTHING;
INSERT INTO sequences (name, value) VALUES ('declaration', 0) ON CONFLICT (name) DO NOTHING;
`

// sqliteMigrateNotices brings a register of an earlier release to releaseSchema, in one transaction:
// release notices keyed by declaration ID alone are keyed by exporter and declaration ID.
const sqliteMigrateNotices = `
ALTER TABLE release_notices RENAME TO release_notices_by_declaration;
` + "%s" + `
INSERT INTO release_notices (exporter_code, declaration_id, number, lane, officer, issued_at)
	SELECT exporter_code, declaration_id, number, lane, officer, issued_at FROM release_notices_by_declaration;
DROP TABLE release_notices_by_declaration;
`

// OpenSQLite opens (creating if need be) the release register in the SQLite file at
// path.
func OpenSQLite(path string) (*SQLite, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open release register: %q is not a usable file path", path)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open release register %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	if err := useWAL(db, busyTimeout); err != nil {
		return nil, errors.Join(fmt.Errorf("release register %s: WAL journal: %w", path, err), db.Close())
	}
	if err := createSQLiteSchema(db); err != nil {
		return nil, errors.Join(fmt.Errorf("create release register %s: %w", path, err), db.Close())
	}
	return &SQLite{db: db, path: path}, nil
}

// busyTimeout is how long a statement waits for another process's lock on the register.
const busyTimeout = 10 * time.Second

// useWAL puts the file in WAL journal mode, which it keeps. SQLite changes a file's journal mode
// only under an exclusive lock and does not wait for one, so a process that finds the file busy
// (another worker starting with it) asks again, for up to within.
func useWAL(db *sql.DB, within time.Duration) error {
	deadline := time.Now().Add(within)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		var mode string
		err := db.QueryRow(`PRAGMA journal_mode=WAL`).Scan(&mode)
		var se *sqlite.Error
		switch {
		case err == nil && strings.EqualFold(mode, "wal"):
			return nil
		case err == nil:
			// A mode SQLite could not change is answered with the mode it keeps.
			err = fmt.Errorf("the file stays in journal mode %q", mode)
		case !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY:
			return err
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(wait)
	}
}

// createSQLiteSchema creates the register's tables, or brings an earlier release's to this one,
// in one IMMEDIATE transaction: processes opening the file together take turns.
func createSQLiteSchema(db *sql.DB) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	var keyed int
	err = tx.QueryRow(`SELECT count(*) FROM pragma_table_info('release_notices') WHERE name = 'declaration_id' AND pk = 1`).Scan(&keyed)
	if err == nil && keyed == 1 {
		var bound int
		if err = tx.QueryRow(`SELECT count(*) FROM pragma_table_info('release_notices') WHERE name = 'run_id'`).Scan(&bound); err == nil && bound == 0 {
			table := releaseSchema[strings.Index(releaseSchema, "CREATE TABLE IF NOT EXISTS release_notices"):strings.Index(releaseSchema, "CREATE TABLE IF NOT EXISTS declarations")]
			_, err = tx.Exec(fmt.Sprintf(sqliteMigrateNotices, table))
		}
	}
	if err == nil {
		_, err = tx.Exec(releaseSchema + sqliteHearingsSchema)
	}
	if err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

// Path returns the register's file.
func (s *SQLite) Path() string { return s.path }

// Close closes the register.
func (s *SQLite) Close() error { return s.db.Close() }

// Issue returns the notice of r's exporter and declaration, issuing it with the next number and
// time at if there is none yet. A notice issued to another clearance (another first run) is an
// error: two shipments never share a notice.
func (s *SQLite) Issue(ctx context.Context, r activities.ReleaseRequest, at time.Time) (activities.ReleaseNotice, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return activities.ReleaseNotice{}, fmt.Errorf("begin: %w", err)
	}
	n, found, err := get(ctx, tx, sqliteDialect, r.ExporterCode, r.DeclarationID)
	switch {
	case err == nil && !found:
		n, err = issue(ctx, tx, sqliteDialect, r, at, func() (int64, error) {
			var seq int64
			err := tx.QueryRowContext(ctx, `UPDATE sequences SET value = value + 1 WHERE name = 'release-notice' RETURNING value`).Scan(&seq)
			return seq, err
		})
	case err == nil:
		err = boundTo(n, r)
	}
	if err != nil {
		return activities.ReleaseNotice{}, errors.Join(err, tx.Rollback())
	}
	if err := tx.Commit(); err != nil {
		return activities.ReleaseNotice{}, fmt.Errorf("commit: %w", err)
	}
	return n.ReleaseNotice, nil
}

// dialect is how the SQL of the two registers differs: SQLite's ? against PostgreSQL's $n, and
// times as text against timestamptz.
type dialect struct {
	placeholder func(n int) string
	textTimes   bool
}

var (
	sqliteDialect   = dialect{placeholder: func(int) string { return "?" }, textTimes: true}
	postgresDialect = dialect{placeholder: func(n int) string { return fmt.Sprintf("$%d", n) }}
)

// q writes a query's placeholders, numbered from 1, where it has '?'.
func (d dialect) q(query string) string {
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString(d.placeholder(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// timeArg is a time as the dialect stores it.
func (d dialect) timeArg(t time.Time) any {
	if d.textTimes {
		return t.Format(time.RFC3339Nano)
	}
	return t
}

// scanTime reads a time as the dialect stores it into *t.
type scanTime struct {
	d dialect
	t *time.Time
}

func (s scanTime) Scan(v any) error {
	switch x := v.(type) {
	case time.Time:
		*s.t = x.UTC()
		return nil
	case string:
		t, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			return fmt.Errorf("time %q: %w", x, err)
		}
		*s.t = t.UTC()
		return nil
	}
	return fmt.Errorf("time: unexpected %T", v)
}

// notice is a release notice with the clearance it is bound to.
type notice struct {
	activities.ReleaseNotice
	workflowID, runID string
}

// boundTo refuses a notice bound to another clearance than r's. A notice issued before notices
// were bound is bound to none and is r's.
func boundTo(n notice, r activities.ReleaseRequest) error {
	if n.runID == "" || r.RunID == "" || n.runID == r.RunID {
		return nil
	}
	return fmt.Errorf("declaration %s of exporter %s already has release notice %s, issued to clearance %s (run %s), not to run %s",
		r.DeclarationID, r.ExporterCode, n.Number, n.workflowID, n.runID, r.RunID)
}

type execer interface {
	queryer
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func issue(ctx context.Context, tx execer, d dialect, r activities.ReleaseRequest, at time.Time, next func() (int64, error)) (notice, error) {
	seq, err := next()
	if err != nil {
		return notice{}, fmt.Errorf("next notice number: %w", err)
	}
	at = at.UTC().Truncate(time.Microsecond)
	n := notice{ReleaseNotice: activities.ReleaseNotice{
		Number:        fmt.Sprintf("RN-%04d-%08d", at.In(chinaTime).Year(), seq),
		DeclarationID: r.DeclarationID,
		ExporterCode:  r.ExporterCode,
		Registration:  r.Registration,
		IssuedAt:      at,
	}, workflowID: r.WorkflowID, runID: r.RunID}
	if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO release_notices
	(exporter_code, declaration_id, number, lane, officer, issued_at, workflow_id, run_id, registration)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		r.ExporterCode, n.DeclarationID, n.Number, string(r.Lane), r.Officer, d.timeArg(at), r.WorkflowID, r.RunID, r.Registration); err != nil {
		return notice{}, fmt.Errorf("record notice %s: %w", n.Number, err)
	}
	return n, nil
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func get(ctx context.Context, q queryer, d dialect, exporterCode, declarationID string) (notice, bool, error) {
	var n notice
	err := q.QueryRowContext(ctx, d.q(`SELECT declaration_id, exporter_code, number, registration, issued_at, workflow_id, run_id
	FROM release_notices WHERE exporter_code = ? AND declaration_id = ?`), exporterCode, declarationID).
		Scan(&n.DeclarationID, &n.ExporterCode, &n.Number, &n.Registration, scanTime{d, &n.IssuedAt}, &n.workflowID, &n.runID)
	if errors.Is(err, sql.ErrNoRows) {
		return notice{}, false, nil
	}
	if err != nil {
		return notice{}, false, fmt.Errorf("read notice of %s of exporter %s: %w", declarationID, exporterCode, err)
	}
	return n, true, nil
}

// Get returns the notice issued for an exporter's declaration, if any.
func (s *SQLite) Get(ctx context.Context, exporterCode, declarationID string) (activities.ReleaseNotice, bool, error) {
	n, ok, err := get(ctx, s.db, sqliteDialect, exporterCode, declarationID)
	return n.ReleaseNotice, ok, err
}

// Register records an exporter's declaration with the next registration number and time at, or
// returns its entry when the register holds it already (for this clearance or another one).
func (s *SQLite) Register(ctx context.Context, r activities.Registration, at time.Time) (activities.Registered, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return activities.Registered{}, fmt.Errorf("begin: %w", err)
	}
	reg, found, err := registered(ctx, tx, sqliteDialect, r.ExporterCode, r.DeclarationID)
	if err == nil && !found {
		reg, err = enter(ctx, tx, sqliteDialect, r, at, func() (int64, error) {
			var seq int64
			err := tx.QueryRowContext(ctx, `UPDATE sequences SET value = value + 1 WHERE name = 'declaration' RETURNING value`).Scan(&seq)
			return seq, err
		})
	}
	if err != nil {
		return activities.Registered{}, errors.Join(err, tx.Rollback())
	}
	if err := tx.Commit(); err != nil {
		return activities.Registered{}, fmt.Errorf("commit: %w", err)
	}
	return reg, nil
}

// Registered returns the entry of an exporter's declaration, if the register holds it.
func (s *SQLite) Registered(ctx context.Context, exporterCode, declarationID string) (activities.Registered, bool, error) {
	return registered(ctx, s.db, sqliteDialect, exporterCode, declarationID)
}

func enter(ctx context.Context, tx execer, d dialect, r activities.Registration, at time.Time, next func() (int64, error)) (activities.Registered, error) {
	seq, err := next()
	if err != nil {
		return activities.Registered{}, fmt.Errorf("next registration number: %w", err)
	}
	at = at.UTC().Truncate(time.Microsecond)
	reg := activities.Registered{Registration: r, Number: fmt.Sprintf("ED-%04d-%08d", at.In(chinaTime).Year(), seq), LodgedAt: at}
	if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO declarations (exporter_code, declaration_id, number, workflow_id, run_id, lodged_at)
	VALUES (?, ?, ?, ?, ?, ?)`), r.ExporterCode, r.DeclarationID, reg.Number, r.WorkflowID, r.RunID, d.timeArg(at)); err != nil {
		return activities.Registered{}, fmt.Errorf("record registration %s: %w", reg.Number, err)
	}
	return reg, nil
}

func registered(ctx context.Context, q queryer, d dialect, exporterCode, declarationID string) (activities.Registered, bool, error) {
	var reg activities.Registered
	var notice sql.NullString
	err := q.QueryRowContext(ctx, d.q(`SELECT r.exporter_code, r.declaration_id, r.number, r.workflow_id, r.run_id, r.lodged_at, n.number
	FROM declarations r LEFT JOIN release_notices n ON n.exporter_code = r.exporter_code AND n.declaration_id = r.declaration_id
	WHERE r.exporter_code = ? AND r.declaration_id = ?`), exporterCode, declarationID).
		Scan(&reg.ExporterCode, &reg.DeclarationID, &reg.Number, &reg.WorkflowID, &reg.RunID, scanTime{d, &reg.LodgedAt}, &notice)
	if errors.Is(err, sql.ErrNoRows) {
		return activities.Registered{}, false, nil
	}
	if err != nil {
		return activities.Registered{}, false, fmt.Errorf("read the registration of %s of exporter %s: %w", declarationID, exporterCode, err)
	}
	reg.Notice = notice.String
	return reg, true, nil
}

// Count returns the number of notices issued.
func (s *SQLite) Count(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM release_notices`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count notices: %w", err)
	}
	return n, nil
}
