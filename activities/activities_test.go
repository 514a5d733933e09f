package activities

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/registry"
)

// checkDay is the day the example checks run on: every example certificate is valid on it.
var checkDay = time.Date(2026, 6, 1, 9, 30, 0, 0, time.UTC)

var fixedNow = time.Date(2026, 6, 1, 9, 30, 5, 0, time.UTC)

// newEnv returns a test activity environment with a registered.
func newEnv(t *testing.T, a *Activities) *testsuite.TestActivityEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	return env
}

// newActivities returns activities over the shipped registry and the built-in policy, with
// the sample switched off unless a test asks for it.
func newActivities(t *testing.T) *Activities {
	t.Helper()
	p := policy.Default()
	p.SamplePercent = 0
	return &Activities{
		Registry: registry.Default(),
		Config:   StaticConfig(Configuration{Policy: p, Roster: policy.DefaultRoster()}),
		Now:      func() time.Time { return fixedNow },
	}
}

// example reads an example declaration through the strict parser and validator.
func example(t *testing.T, name string) declaration.Declaration {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	d, err := declaration.ParseAndValidate(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

func input(d declaration.Declaration) CheckInput { return CheckInput{Declaration: d, On: checkDay} }

func selectLane(t *testing.T, a *Activities, in CheckInput) LaneSelection {
	t.Helper()
	val, err := newEnv(t, a).ExecuteActivity(a.SelectLane, in)
	if err != nil {
		t.Fatalf("SelectLane: %v", err)
	}
	var sel LaneSelection
	if err := val.Get(&sel); err != nil {
		t.Fatal(err)
	}
	return sel
}

// runCheck runs a check activity and returns its result, or its error.
func runCheck(t *testing.T, a *Activities, fn any, in CheckInput) (CheckResult, error) {
	t.Helper()
	val, err := newEnv(t, a).ExecuteActivity(fn, in)
	if err != nil {
		return CheckResult{}, err
	}
	var res CheckResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	return res, nil
}

func mustCheck(t *testing.T, a *Activities, fn any, in CheckInput) CheckResult {
	t.Helper()
	res, err := runCheck(t, a, fn, in)
	if err != nil {
		t.Fatalf("check failed: %v", err)
	}
	return res
}

// findings returns the findings with the given code.
func findings(res CheckResult, code string) []Finding {
	var out []Finding
	for _, f := range res.Findings {
		if f.Code == code {
			out = append(out, f)
		}
	}
	return out
}

func codes(res CheckResult) []string {
	var out []string
	for _, f := range res.Findings {
		out = append(out, f.Code+"/"+string(f.Severity))
	}
	return out
}

// wantFinding fails unless res has a finding with the code, severity and field, whose message
// contains every one of the words.
func wantFinding(t *testing.T, res CheckResult, code string, sev Severity, field string, words ...string) Finding {
	t.Helper()
	for _, f := range findings(res, code) {
		if f.Severity != sev || (field != "" && f.Field != field) {
			continue
		}
		ok := true
		for _, w := range words {
			if !strings.Contains(f.Message, w) {
				ok = false
			}
		}
		if ok {
			return f
		}
	}
	t.Fatalf("no %s %s finding on %q mentioning %q; findings: %+v", sev, code, field, words, res.Findings)
	return Finding{}
}

// invalidCertificate returns the CheckResult in the details of an InvalidCertificate error.
func invalidCertificate(t *testing.T, err error) (CheckResult, *temporal.ApplicationError) {
	t.Helper()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("err = %v, want an ApplicationError", err)
	}
	if appErr.Type() != ErrInvalidCertificate {
		t.Fatalf("error type = %q, want %q (%v)", appErr.Type(), ErrInvalidCertificate, err)
	}
	if !appErr.NonRetryable() {
		t.Error("InvalidCertificate error is retryable")
	}
	var res CheckResult
	if err := appErr.Details(&res); err != nil {
		t.Fatalf("details: %v", err)
	}
	return res, appErr
}

// examples lists every example that passes validation with what the engine makes of it.
var examples = []struct {
	file      string
	lane      policy.Lane
	docsClean bool // the document check finds nothing for an officer
	certs     string
}{
	{"us-nasal-cannulas-anaesthesia-masks.json", policy.LaneGreen, true, "ok"},
	{"it-ffp2-respirators.json", policy.LaneGreen, true, "ok"},
	{"nl-examination-gloves-self-declared.json", policy.LaneGreen, true, "ok"},
	{"de-antibody-test-kits.json", policy.LaneYellow, true, "ok"},
	{"us-n95-respirators-niosh.json", policy.LaneYellow, true, "ok"},
	{"fr-biological-class-b.json", policy.LaneRed, true, "ok"},
	{"expedited-emergency-ventilators.json", policy.LaneRed, true, "ok"},
	{"red-lane-repeat-refusals-protective-clothing.json", policy.LaneRed, true, "ok"},
	{"es-masks-non-notified-body.json", policy.LaneYellow, true, "invalid"},
	{"missing-documents-quality-declaration-thermometers.json", policy.LaneGreen, false, "ok"},
	{"it-face-masks-unlisted-producer.json", policy.LaneYellow, true, "producer-not-qualified"},
}

func TestExamples(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("..", "examples"))
	if err != nil {
		t.Fatal(err)
	}
	listed := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") && !strings.HasPrefix(e.Name(), "invalid-") {
			listed++
		}
	}
	if listed != len(examples) {
		t.Errorf("examples/ holds %d valid examples, the test knows %d", listed, len(examples))
	}

	// The shipped policy samples 5%: none of the green examples falls in the sample.
	withSample := newActivities(t)
	withSample.Config = nil

	for _, ex := range examples {
		t.Run(ex.file, func(t *testing.T) {
			a := newActivities(t)
			in := input(example(t, ex.file))

			sel := selectLane(t, withSample, in)
			if sel.Lane != ex.lane || sel.Sampled {
				t.Errorf("lane = %s (sampled %v), want %s; reasons %q", sel.Lane, sel.Sampled, ex.lane, sel.Reasons)
			}
			if len(sel.Reasons) == 0 {
				t.Error("no reasons")
			}

			docs := mustCheck(t, a, a.CheckDocuments, in)
			if docs.NeedsOfficer() == ex.docsClean {
				t.Errorf("documents: NeedsOfficer = %v, findings %v", docs.NeedsOfficer(), codes(docs))
			}
			if docs.Stage != policy.StageDocumentCheck || !docs.CheckedAt.Equal(fixedNow) {
				t.Errorf("documents: stage %q checked at %v", docs.Stage, docs.CheckedAt)
			}

			certs, err := runCheck(t, a, a.VerifyCertificates, in)
			switch ex.certs {
			case "ok":
				if err != nil {
					t.Fatalf("certificates: %v", err)
				}
				if certs.NeedsOfficer() {
					t.Errorf("certificates: findings %v", codes(certs))
				}
				if n := len(findings(certs, "certificate-verified")); n != len(in.Declaration.Certificates) {
					t.Errorf("certificates: %d verified of %d", n, len(in.Declaration.Certificates))
				}
			case "invalid":
				if res, _ := invalidCertificate(t, err); res.Worst() != SeverityError {
					t.Errorf("certificates: findings %v", codes(res))
				}
			default:
				// A finding an officer weighs, by its code.
				if err != nil {
					t.Fatalf("certificates: %v", err)
				}
				if !certs.NeedsOfficer() || len(findings(certs, ex.certs)) == 0 {
					t.Errorf("certificates: findings %v, want %s for an officer", codes(certs), ex.certs)
				}
			}

			if in.Declaration.NeedsBiologicalReview() {
				bio := mustCheck(t, a, a.PrescreenBiological, in)
				if bio.Worst() == SeverityError {
					t.Errorf("biological: findings %v", codes(bio))
				}
			}
			if ex.lane == policy.LaneRed {
				plan := mustCheck(t, a, a.PlanInspection, in)
				if len(findings(plan, "inspect-line")) != len(in.Declaration.Lines) {
					t.Errorf("inspection: findings %v", codes(plan))
				}
			}
		})
	}
}

func TestInvalidExamples(t *testing.T) {
	tests := []struct {
		file  string
		field string
	}{
		{"invalid-five-digit-hs-code.json", "lines[0].hsCode"},
		{"invalid-negative-quantity-no-invoice.json", "lines[1].quantity"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("..", "examples", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			_, err = declaration.ParseAndValidate(b)
			var verr *declaration.ValidationError
			if !errors.As(err, &verr) || !slices.ContainsFunc(verr.Problems, func(p declaration.Problem) bool { return p.Field == tt.field }) {
				t.Fatalf("ParseAndValidate = %v, want a problem with %s", err, tt.field)
			}

			// An activity handed the declaration anyway refuses it without retrying.
			var d declaration.Declaration
			if err := json.Unmarshal(b, &d); err != nil {
				t.Fatal(err)
			}
			a := newActivities(t)
			_, err = runCheck(t, a, a.CheckDocuments, input(d))
			var appErr *temporal.ApplicationError
			if !errors.As(err, &appErr) || appErr.Type() != ErrInvalidDeclaration || !appErr.NonRetryable() {
				t.Fatalf("err = %v, want a non-retryable %s", err, ErrInvalidDeclaration)
			}
			var details declaration.ValidationError
			if err := appErr.Details(&details); err != nil || len(details.Problems) == 0 {
				t.Errorf("details = %+v, %v; want the validation problems", details, err)
			}
		})
	}
}

func TestCheckInputWithoutDay(t *testing.T) {
	a := newActivities(t)
	_, err := runCheck(t, a, a.VerifyCertificates, CheckInput{Declaration: example(t, "it-ffp2-respirators.json")})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != ErrInvalidDeclaration || !appErr.NonRetryable() {
		t.Fatalf("err = %v, want a non-retryable %s", err, ErrInvalidDeclaration)
	}
}

func TestLoadConfiguration(t *testing.T) {
	dir := t.TempDir()
	rosterPath := filepath.Join(dir, "roster.json")
	write := func(officers string) {
		t.Helper()
		if err := os.WriteFile(rosterPath, []byte(`{"officers": [`+officers+`]}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"id": "sup-huang", "name": "Huang Wei", "roles": ["supervisor"]}`)
	a := &Activities{Registry: registry.Default(), Config: FileConfig("", rosterPath)}
	env := newEnv(t, a)
	load := func() (Configuration, error) {
		val, err := env.ExecuteActivity(a.LoadConfiguration)
		if err != nil {
			return Configuration{}, err
		}
		var cfg Configuration
		return cfg, val.Get(&cfg)
	}

	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Roster.Officers) != 1 || cfg.Policy.Standard.D() != 20*24*time.Hour {
		t.Fatalf("configuration = %+v", cfg)
	}

	// A roster change takes effect on the next call, without a restart.
	write(`{"id": "sup-huang", "name": "Huang Wei", "roles": ["supervisor"]},
		{"id": "doc-new", "name": "Gao Min", "roles": ["document-officer"]}`)
	cfg, err = load()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Roster.Find("doc-new"); !ok {
		t.Errorf("the new officer is missing: %+v", cfg.Roster)
	}

	// A broken roster is retried (an operator fixes the file), not a business failure.
	write(`{"id": "doc-li", "roles": ["document-officer"]}`)
	_, err = load()
	var appErr *temporal.ApplicationError
	if err == nil || (errors.As(err, &appErr) && appErr.NonRetryable()) {
		t.Fatalf("err = %v, want a retryable error", err)
	}

	// Without a source, the built-in policy and roster.
	b := &Activities{Registry: registry.Default()}
	val, err := newEnv(t, b).ExecuteActivity(b.LoadConfiguration)
	if err != nil {
		t.Fatal(err)
	}
	if err := val.Get(&cfg); err != nil || len(cfg.Roster.Officers) != len(policy.DefaultRoster().Officers) {
		t.Errorf("default configuration = %+v, %v", cfg, err)
	}
}

// failingRegistry is a registry that cannot be reached.
type failingRegistry struct{ registry.Registry }

var errUnreachable = errors.New("registry unreachable: connection refused")

func (failingRegistry) NotifiedBody(context.Context, string) (registry.NotifiedBody, bool, error) {
	return registry.NotifiedBody{}, false, errUnreachable
}

func (failingRegistry) ExporterRecord(context.Context, string) (registry.ExporterRecord, bool, error) {
	return registry.ExporterRecord{}, false, errUnreachable
}

func TestRegistryFailureIsRetried(t *testing.T) {
	a := newActivities(t)
	a.Registry = failingRegistry{registry.Default()}
	in := input(example(t, "it-ffp2-respirators.json"))
	for name, fn := range map[string]any{"SelectLane": a.SelectLane, "VerifyCertificates": a.VerifyCertificates} {
		_, err := newEnv(t, a).ExecuteActivity(fn, in)
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) {
			t.Fatalf("%s: err = %v, want the activity's error", name, err)
		}
		if appErr.NonRetryable() || appErr.Type() == ErrInvalidCertificate || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("%s: err = %v (type %q, non-retryable %v), want a plain retryable error", name, err, appErr.Type(), appErr.NonRetryable())
		}
	}
}

// TestLoadConfigurationRecordsTheZonesOffsets: a policy whose calendar names an IANA zone comes
// back with the zone's offsets, so the clearance's history holds what its due times count with.
func TestLoadConfigurationRecordsTheZonesOffsets(t *testing.T) {
	dir := t.TempDir()
	p := policy.Default()
	p.Calendar = policy.Calendar{Counting: policy.CountingBusinessDays, Zone: "Europe/Berlin"}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	a := &Activities{Registry: registry.Default(), Config: FileConfig(path, "")}
	val, err := newEnv(t, a).ExecuteActivity(a.LoadConfiguration)
	if err != nil {
		t.Fatal(err)
	}
	var cfg Configuration
	if err := val.Get(&cfg); err != nil {
		t.Fatal(err)
	}
	offs := cfg.Policy.Calendar.Offsets
	if len(offs) < 4 {
		t.Fatalf("offsets %v, want two years of Berlin's summer and winter time", offs)
	}
	seen := map[int]bool{}
	for _, o := range offs {
		seen[o.Seconds] = true
	}
	if !seen[3600] || !seen[7200] {
		t.Errorf("offsets %v, want +01:00 and +02:00", offs)
	}
}
