package register

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/policy"
)

// EnvTestPostgresURL names a PostgreSQL database the release register tests may use, for
// example postgres://customs:customs@127.0.0.1:5432/customs. Each test works in a schema of its
// own and drops it afterwards.
const EnvTestPostgresURL = "CUSTOMS_TEST_POSTGRES_URL"

// postgresSchema creates a fresh schema and returns a URL whose connections work in it.
func postgresSchema(t *testing.T) string {
	t.Helper()
	base := os.Getenv(EnvTestPostgresURL)
	if base == "" {
		t.Skipf("PostgreSQL release register not tested: set %s to a database URL (.ci/postgres.sh does)", EnvTestPostgresURL)
	}
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	schema := "release_test_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema in %s: %v", EnvTestPostgresURL, err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Error(err)
		}
		if err := admin.Close(); err != nil {
			t.Error(err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func openPostgres(t *testing.T, dsn string) *Postgres {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := OpenPostgres(ctx, dsn)
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

func TestPostgresIssueReleaseNoticeOnce(t *testing.T) {
	ctx := context.Background()
	reg := openPostgres(t, postgresSchema(t))
	a := newActivities(t)
	a.Releases = reg
	env := newEnv(t, a)
	req := activities.ReleaseRequest{DeclarationID: "NBKR-2020-000331", ExporterCode: "3302960178", Lane: policy.LaneGreen}

	issue := func(r activities.ReleaseRequest) activities.ReleaseNotice { return issueNotice(t, env, a, r) }
	first := issue(req)
	if first.Number != "RN-2026-00000001" || first.DeclarationID != req.DeclarationID || !first.IssuedAt.Equal(fixedNow) {
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
	got, found, err := reg.Get(ctx, req.ExporterCode, req.DeclarationID)
	if err != nil || !found || got != first {
		t.Errorf("Get = %+v, %v, %v", got, found, err)
	}

	second := issue(activities.ReleaseRequest{DeclarationID: "YJ-2020-IT-0427", ExporterCode: "3302960543", Lane: policy.LaneGreen})
	if second.Number != "RN-2026-00000002" {
		t.Errorf("second notice = %s after %s", second.Number, first.Number)
	}
	if _, found, err := reg.Get(ctx, "3302960178", "nothing-released"); err != nil || found {
		t.Errorf("Get(unknown) = %v, %v", found, err)
	}
}

// TestPostgresConcurrent races issues of one declaration through several
// registers, each standing for a worker on another machine, and issues of many declarations at
// once: one row per declaration, the same notice for every caller, no number twice.
func TestPostgresConcurrent(t *testing.T) {
	ctx := context.Background()
	dsn := postgresSchema(t)
	var regs []*Postgres
	var mu sync.Mutex
	var wg sync.WaitGroup
	opened := make(chan struct{})
	// The workers open the register together on an empty schema: creating the tables must not race.
	for range 3 {
		wg.Go(func() {
			<-opened
			r, err := OpenPostgres(ctx, dsn)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			regs = append(regs, r)
			mu.Unlock()
		})
	}
	close(opened)
	wg.Wait()
	t.Cleanup(func() {
		for _, r := range regs {
			if err := r.Close(); err != nil {
				t.Error(err)
			}
		}
	})
	if len(regs) != 3 {
		t.Fatalf("%d of 3 registers opened", len(regs))
	}

	const calls = 30
	notices := make([]activities.ReleaseNotice, calls)
	errs := make([]error, calls)
	start := make(chan struct{})
	for i := range calls {
		wg.Go(func() {
			<-start
			notices[i], errs[i] = regs[i%len(regs)].Issue(ctx, activities.ReleaseRequest{DeclarationID: "WK-2020-BE-0402",
				ExporterCode: "4403960219", Lane: policy.LaneRed, Officer: "rel-wu"}, fixedNow.Add(time.Duration(i)*time.Millisecond))
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
	if n, err := regs[0].Count(ctx); err != nil || n != 1 {
		t.Fatalf("Count = %d, %v; want exactly one notice", n, err)
	}

	// Many declarations at once, each issued twice: every declaration gets its own number.
	const declarations = 40
	many := make([]activities.ReleaseNotice, 2*declarations)
	for i := range 2 * declarations {
		wg.Go(func() {
			id := fmt.Sprintf("DE-2020-%04d", i%declarations)
			n, err := regs[i%len(regs)].Issue(ctx, activities.ReleaseRequest{DeclarationID: id, ExporterCode: "3302960178",
				Lane: policy.LaneYellow}, fixedNow)
			if err != nil {
				t.Error(err)
			}
			many[i] = n
		})
	}
	wg.Wait()
	seen := map[string]string{notices[0].Number: notices[0].DeclarationID}
	format := regexp.MustCompile(`^RN-2026-[0-9]{8}$`)
	for i := range declarations {
		a, b := many[i], many[i+declarations]
		if a != b {
			t.Errorf("declaration %s got %+v and %+v", a.DeclarationID, a, b)
		}
		if !format.MatchString(a.Number) {
			t.Errorf("number %q", a.Number)
		}
		if other, dup := seen[a.Number]; dup {
			t.Errorf("number %s issued to %s and %s", a.Number, other, a.DeclarationID)
		}
		seen[a.Number] = a.DeclarationID
	}
	if n, err := regs[1].Count(ctx); err != nil || n != declarations+1 {
		t.Errorf("Count = %d, %v; want %d", n, err, declarations+1)
	}
}

func TestPostgresPersists(t *testing.T) {
	ctx := context.Background()
	dsn := postgresSchema(t)
	r, err := OpenPostgres(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	n, err := r.Issue(ctx, activities.ReleaseRequest{DeclarationID: "LC-2020-NL-0415", ExporterCode: "3703960118", Lane: policy.LaneGreen}, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	// Opening again finds the tables and the notice, and numbering goes on.
	r2 := openPostgres(t, dsn)
	got, found, err := r2.Get(ctx, "3703960118", "LC-2020-NL-0415")
	if err != nil || !found || got != n {
		t.Fatalf("after reopening: %+v, %v, %v; want %+v", got, found, err, n)
	}
	late := time.Date(2026, 12, 31, 17, 0, 0, 0, time.UTC) // 2027-01-01 01:00 in China
	next, err := r2.Issue(ctx, activities.ReleaseRequest{DeclarationID: "JH-2020-US-0512", ExporterCode: "3205960330", Lane: policy.LaneYellow}, late)
	if err != nil || next.Number != "RN-2027-00000002" || !next.IssuedAt.Equal(late) {
		t.Errorf("next after reopening = %+v, %v", next, err)
	}
}

func TestOpenPostgresRefusesBadURL(t *testing.T) {
	for _, dsn := range []string{"postgres://", "mysql://u:p@h/db", "postgres://%zz"} {
		_, err := OpenPostgres(context.Background(), dsn)
		if err == nil {
			t.Errorf("%q accepted", dsn)
		}
	}
	if w, err := redact("postgres://customs:s3cret@db.internal:5432/customs?sslmode=require"); err != nil ||
		strings.Contains(w, "s3cret") || !strings.Contains(w, "db.internal:5432/customs") {
		t.Errorf("redact = %q, %v", w, err)
	}
	// A server that does not answer is an error naming the database without its password.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := OpenPostgres(ctx, "postgres://customs:s3cret@127.0.0.1:1/customs?connect_timeout=2")
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("err = %v", err)
	}
}
