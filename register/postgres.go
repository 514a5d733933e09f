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

var (
	_ activities.ReleaseRegister     = (*Postgres)(nil)
	_ activities.DeclarationRegister = (*Postgres)(nil)
)

// postgresSchemaLock is the advisory lock key that serialises creating the tables: workers
// starting together would otherwise race in CREATE ... IF NOT EXISTS, which PostgreSQL does not
// make safe against concurrent creators.
const postgresSchemaLock = 7_305_118_224

// postgresReleaseSchema creates the register's tables and sequences, and brings an earlier
// release's to this one: release notices keyed by declaration ID alone are keyed by exporter and
// declaration ID, and get the columns that bind them to a clearance.
var postgresReleaseSchema = []string{
	`CREATE SEQUENCE IF NOT EXISTS release_notice_numbers AS bigint MINVALUE 1 NO CYCLE`,
	`CREATE SEQUENCE IF NOT EXISTS declaration_numbers AS bigint MINVALUE 1 NO CYCLE`,
	`CREATE TABLE IF NOT EXISTS release_notices (
	exporter_code  text NOT NULL,
	declaration_id text NOT NULL,
	number         text NOT NULL UNIQUE,
	lane           text NOT NULL,
	officer        text NOT NULL DEFAULT '',
	issued_at      timestamptz NOT NULL,
	workflow_id    text NOT NULL DEFAULT '',
	run_id         text NOT NULL DEFAULT '',
	registration   text NOT NULL DEFAULT '',
	PRIMARY KEY (exporter_code, declaration_id)
)`,
	`ALTER TABLE release_notices ADD COLUMN IF NOT EXISTS workflow_id text NOT NULL DEFAULT ''`,
	`ALTER TABLE release_notices ADD COLUMN IF NOT EXISTS run_id text NOT NULL DEFAULT ''`,
	`ALTER TABLE release_notices ADD COLUMN IF NOT EXISTS registration text NOT NULL DEFAULT ''`,
	`DO $$
BEGIN
	IF (SELECT count(*) FROM information_schema.key_column_usage
		WHERE table_schema = current_schema() AND table_name = 'release_notices' AND constraint_name = 'release_notices_pkey') = 1 THEN
		ALTER TABLE release_notices DROP CONSTRAINT release_notices_pkey;
		ALTER TABLE release_notices ADD PRIMARY KEY (exporter_code, declaration_id);
	END IF;
END $$`,
	`CREATE TABLE IF NOT EXISTS declarations (
	exporter_code  text NOT NULL,
	declaration_id text NOT NULL,
	number         text NOT NULL UNIQUE,
	workflow_id    text NOT NULL,
	run_id         text NOT NULL,
	lodged_at      timestamptz NOT NULL,
	PRIMARY KEY (exporter_code, declaration_id)
)`,
	postgresHearingsSchema,
	postgresAdmissionsSchema,
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

// Issue returns the notice of r's exporter and declaration, issuing it with the next number and
// time at if there is none yet. A notice issued to another clearance (another first run) is an
// error: two shipments never share a notice.
func (p *Postgres) Issue(ctx context.Context, r activities.ReleaseRequest, at time.Time) (activities.ReleaseNotice, error) {
	// A retry finds its notice without drawing a number.
	if n, found, err := get(ctx, p.db, postgresDialect, r.ExporterCode, r.DeclarationID); err != nil || found {
		if err == nil {
			err = boundTo(n, r)
		}
		return n.ReleaseNotice, err
	}
	var seq int64
	if err := p.db.QueryRowContext(ctx, `SELECT nextval('release_notice_numbers')`).Scan(&seq); err != nil {
		return activities.ReleaseNotice{}, fmt.Errorf("next notice number: %w", err)
	}
	at = at.UTC().Truncate(time.Microsecond)
	n := activities.ReleaseNotice{Number: fmt.Sprintf("RN-%04d-%08d", at.In(chinaTime).Year(), seq),
		DeclarationID: r.DeclarationID, ExporterCode: r.ExporterCode, Registration: r.Registration, IssuedAt: at}
	res, err := p.db.ExecContext(ctx, `
INSERT INTO release_notices (exporter_code, declaration_id, number, lane, officer, issued_at, workflow_id, run_id, registration)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (exporter_code, declaration_id) DO NOTHING`,
		r.ExporterCode, r.DeclarationID, n.Number, string(r.Lane), r.Officer, at, r.WorkflowID, r.RunID, r.Registration)
	if err != nil {
		return activities.ReleaseNotice{}, fmt.Errorf("record notice of %s: %w", r.DeclarationID, err)
	}
	if rows, err := res.RowsAffected(); err != nil || rows == 1 {
		return n, err
	}
	// Another worker issued it between our read and our insert: return theirs.
	theirs, found, err := get(ctx, p.db, postgresDialect, r.ExporterCode, r.DeclarationID)
	if err == nil && !found {
		err = fmt.Errorf("notice of %s neither inserted nor found", r.DeclarationID)
	}
	if err == nil {
		err = boundTo(theirs, r)
	}
	return theirs.ReleaseNotice, err
}

// Get returns the notice issued for an exporter's declaration, if any.
func (p *Postgres) Get(ctx context.Context, exporterCode, declarationID string) (activities.ReleaseNotice, bool, error) {
	n, ok, err := get(ctx, p.db, postgresDialect, exporterCode, declarationID)
	return n.ReleaseNotice, ok, err
}

// Register records an exporter's declaration with the next registration number and time at, or
// returns its entry when the register holds it already (for this clearance or another one).
// Concurrent registrations of one declaration leave one entry, and all return it.
func (p *Postgres) Register(ctx context.Context, r activities.Registration, at time.Time) (activities.Registered, error) {
	if reg, found, err := registered(ctx, p.db, postgresDialect, r.ExporterCode, r.DeclarationID); err != nil || found {
		return reg, err
	}
	var seq int64
	if err := p.db.QueryRowContext(ctx, `SELECT nextval('declaration_numbers')`).Scan(&seq); err != nil {
		return activities.Registered{}, fmt.Errorf("next registration number: %w", err)
	}
	at = at.UTC().Truncate(time.Microsecond)
	reg := activities.Registered{Registration: r, Number: fmt.Sprintf("ED-%04d-%08d", at.In(chinaTime).Year(), seq), LodgedAt: at}
	res, err := p.db.ExecContext(ctx, `
INSERT INTO declarations (exporter_code, declaration_id, number, workflow_id, run_id, lodged_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (exporter_code, declaration_id) DO NOTHING`,
		r.ExporterCode, r.DeclarationID, reg.Number, r.WorkflowID, r.RunID, at)
	if err != nil {
		return activities.Registered{}, fmt.Errorf("record registration of %s: %w", r.DeclarationID, err)
	}
	if rows, err := res.RowsAffected(); err != nil || rows == 1 {
		return reg, err
	}
	theirs, found, err := registered(ctx, p.db, postgresDialect, r.ExporterCode, r.DeclarationID)
	if err == nil && !found {
		err = fmt.Errorf("registration of %s neither inserted nor found", r.DeclarationID)
	}
	return theirs, err
}

// Registered returns the entry of an exporter's declaration, if the register holds it.
func (p *Postgres) Registered(ctx context.Context, exporterCode, declarationID string) (activities.Registered, bool, error) {
	return registered(ctx, p.db, postgresDialect, exporterCode, declarationID)
}

// Count returns the number of notices issued.
func (p *Postgres) Count(ctx context.Context) (int, error) {
	var n int
	if err := p.db.QueryRowContext(ctx, `SELECT count(*) FROM release_notices`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count notices: %w", err)
	}
	return n, nil
}
