package register

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/medsupply/customs/activities"
)

// Postgres is a release register in a PostgreSQL database, which every worker of a
// cluster shares, on any number of machines. The declaration ID is the table's primary key, so
// concurrent issues of one declaration, from one process or many, leave one row and all return
// it. Notice numbers come from a PostgreSQL sequence: RN-<year>-<eight digits>, the year being
// the year of issue in China Standard Time. A sequence never hands out a number twice; a
// number drawn by the loser of a race for the same declaration is skipped, so numbers may have
// gaps, never repeats.
type Postgres struct {
	db    *sql.DB
	where string
}

var _ activities.ReleaseRegister = (*Postgres)(nil)

// postgresSchemaLock is the advisory lock key that serialises creating the tables: workers
// starting together would otherwise race in CREATE ... IF NOT EXISTS, which PostgreSQL does not
// make safe against concurrent creators.
const postgresSchemaLock = 7_305_118_224

var postgresReleaseSchema = []string{
	`CREATE SEQUENCE IF NOT EXISTS release_notice_numbers AS bigint MINVALUE 1 NO CYCLE`,
	`CREATE TABLE IF NOT EXISTS release_notices (
	declaration_id text PRIMARY KEY,
	number         text NOT NULL UNIQUE,
	exporter_code  text NOT NULL,
	lane           text NOT NULL,
	officer        text NOT NULL DEFAULT '',
	issued_at      timestamptz NOT NULL
)`,
}

// OpenPostgres connects to the PostgreSQL database at dsn
// (postgres://user:password@host:port/database?sslmode=...) and creates the register's table and
// sequence there if they are missing. The tables go to the first schema on the connection's
// search_path, which a search_path parameter in dsn can set.
func OpenPostgres(ctx context.Context, dsn string) (*Postgres, error) {
	where, err := redact(dsn)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open release register %s: %w", where, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(4)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := createPostgresSchema(ctx, db); err != nil {
		return nil, errors.Join(fmt.Errorf("create release register %s: %w", where, err), db.Close())
	}
	return &Postgres{db: db, where: where}, nil
}

// redact returns dsn without its password, for logs and errors.
func redact(dsn string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return "", errors.New("open release register: want a URL postgres://user:password@host:port/database")
	}
	return u.Redacted(), nil
}

func createPostgresSchema(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(postgresSchemaLock)); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	for _, stmt := range postgresReleaseSchema {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return errors.Join(err, tx.Rollback())
		}
	}
	return tx.Commit()
}

// Where returns the database's URL without password.
func (p *Postgres) Where() string { return p.where }

// Close closes the register's connections.
func (p *Postgres) Close() error { return p.db.Close() }

// Issue returns the notice of r.DeclarationID, issuing it with the next number and time at if
// there is none yet.
func (p *Postgres) Issue(ctx context.Context, r activities.ReleaseRequest, at time.Time) (activities.ReleaseNotice, error) {
	// A retry finds its notice without drawing a number.
	if n, found, err := p.Get(ctx, r.DeclarationID); err != nil || found {
		return n, err
	}
	at = at.UTC().Truncate(time.Microsecond)
	var n activities.ReleaseNotice
	var issued time.Time
	err := p.db.QueryRowContext(ctx, `
INSERT INTO release_notices (declaration_id, number, exporter_code, lane, officer, issued_at)
SELECT $1, 'RN-' || $2::text || '-' || lpad(s.n::text, greatest(8, length(s.n::text)), '0'), $3, $4, $5, $6
FROM (SELECT nextval('release_notice_numbers') AS n) AS s
ON CONFLICT (declaration_id) DO NOTHING
RETURNING declaration_id, number, issued_at`,
		r.DeclarationID, fmt.Sprintf("%04d", at.In(chinaTime).Year()), r.ExporterCode, string(r.Lane), r.Officer, at).
		Scan(&n.DeclarationID, &n.Number, &issued)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// Another worker issued it between our read and our insert: return theirs.
		n, found, err := p.Get(ctx, r.DeclarationID)
		if err == nil && !found {
			err = fmt.Errorf("notice of %s neither inserted nor found", r.DeclarationID)
		}
		return n, err
	case err != nil:
		return activities.ReleaseNotice{}, fmt.Errorf("record notice of %s: %w", r.DeclarationID, err)
	}
	n.IssuedAt = issued.UTC()
	return n, nil
}

// Get returns the notice issued for a declaration, if any.
func (p *Postgres) Get(ctx context.Context, declarationID string) (activities.ReleaseNotice, bool, error) {
	var n activities.ReleaseNotice
	var issued time.Time
	err := p.db.QueryRowContext(ctx,
		`SELECT declaration_id, number, issued_at FROM release_notices WHERE declaration_id = $1`, declarationID).
		Scan(&n.DeclarationID, &n.Number, &issued)
	if errors.Is(err, sql.ErrNoRows) {
		return activities.ReleaseNotice{}, false, nil
	}
	if err != nil {
		return activities.ReleaseNotice{}, false, fmt.Errorf("read notice of %s: %w", declarationID, err)
	}
	n.IssuedAt = issued.UTC()
	return n, true, nil
}

// Count returns the number of notices issued.
func (p *Postgres) Count(ctx context.Context) (int, error) {
	var n int
	if err := p.db.QueryRowContext(ctx, `SELECT count(*) FROM release_notices`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count notices: %w", err)
	}
	return n, nil
}
