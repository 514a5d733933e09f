// Package register keeps the engine's own durable records: the release register, one release
// notice per declaration, in a SQLite file on one machine (SQLite) or in PostgreSQL for a cluster
// (Postgres). Only the worker links it: the exporter's and officers' commands are clients.
package register

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver, pure Go

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

var _ activities.ReleaseRegister = (*SQLite)(nil)

const releaseSchema = `
CREATE TABLE IF NOT EXISTS release_notices (
	declaration_id TEXT PRIMARY KEY,
	number         TEXT NOT NULL UNIQUE,
	exporter_code  TEXT NOT NULL,
	lane           TEXT NOT NULL,
	officer        TEXT NOT NULL DEFAULT '',
	issued_at      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sequences (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
);
INSERT INTO sequences (name, value) VALUES ('release-notice', 0) ON CONFLICT (name) DO NOTHING;
`

// OpenSQLite opens (creating if need be) the release register in the SQLite file at
// path.
func OpenSQLite(path string) (*SQLite, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open release register: %q is not a usable file path", path)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open release register %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	if _, err := db.Exec(releaseSchema); err != nil {
		return nil, errors.Join(fmt.Errorf("create release register %s: %w", path, err), db.Close())
	}
	return &SQLite{db: db, path: path}, nil
}

// Path returns the register's file.
func (s *SQLite) Path() string { return s.path }

// Close closes the register.
func (s *SQLite) Close() error { return s.db.Close() }

// Issue returns the notice of r.DeclarationID, issuing it with the next number and time at if
// there is none yet.
func (s *SQLite) Issue(ctx context.Context, r activities.ReleaseRequest, at time.Time) (activities.ReleaseNotice, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return activities.ReleaseNotice{}, fmt.Errorf("begin: %w", err)
	}
	n, found, err := get(ctx, tx, r.DeclarationID)
	if err == nil && !found {
		n, err = issue(ctx, tx, r, at)
	}
	if err != nil {
		return activities.ReleaseNotice{}, errors.Join(err, tx.Rollback())
	}
	if err := tx.Commit(); err != nil {
		return activities.ReleaseNotice{}, fmt.Errorf("commit: %w", err)
	}
	return n, nil
}

func issue(ctx context.Context, tx *sql.Tx, r activities.ReleaseRequest, at time.Time) (activities.ReleaseNotice, error) {
	var seq int64
	if err := tx.QueryRowContext(ctx,
		`UPDATE sequences SET value = value + 1 WHERE name = 'release-notice' RETURNING value`).Scan(&seq); err != nil {
		return activities.ReleaseNotice{}, fmt.Errorf("next notice number: %w", err)
	}
	at = at.UTC().Truncate(time.Microsecond)
	n := activities.ReleaseNotice{
		Number:        fmt.Sprintf("RN-%04d-%08d", at.In(chinaTime).Year(), seq),
		DeclarationID: r.DeclarationID,
		IssuedAt:      at,
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO release_notices (declaration_id, number, exporter_code, lane, officer, issued_at) VALUES (?, ?, ?, ?, ?, ?)`,
		n.DeclarationID, n.Number, r.ExporterCode, string(r.Lane), r.Officer, at.Format(time.RFC3339Nano)); err != nil {
		return activities.ReleaseNotice{}, fmt.Errorf("record notice %s: %w", n.Number, err)
	}
	return n, nil
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func get(ctx context.Context, q queryer, declarationID string) (activities.ReleaseNotice, bool, error) {
	var n activities.ReleaseNotice
	var issued string
	err := q.QueryRowContext(ctx,
		`SELECT declaration_id, number, issued_at FROM release_notices WHERE declaration_id = ?`, declarationID).
		Scan(&n.DeclarationID, &n.Number, &issued)
	if errors.Is(err, sql.ErrNoRows) {
		return activities.ReleaseNotice{}, false, nil
	}
	if err != nil {
		return activities.ReleaseNotice{}, false, fmt.Errorf("read notice of %s: %w", declarationID, err)
	}
	n.IssuedAt, err = time.Parse(time.RFC3339Nano, issued)
	if err != nil {
		return activities.ReleaseNotice{}, false, fmt.Errorf("read notice of %s: issued_at %q: %w", declarationID, issued, err)
	}
	return n, true, nil
}

// Get returns the notice issued for a declaration, if any.
func (s *SQLite) Get(ctx context.Context, declarationID string) (activities.ReleaseNotice, bool, error) {
	return get(ctx, s.db, declarationID)
}

// Count returns the number of notices issued.
func (s *SQLite) Count(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM release_notices`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count notices: %w", err)
	}
	return n, nil
}
