// Package cluster tests the engine on a real Temporal cluster running outside the test: every
// valid example is cleared by worker processes that share the task queue and a PostgreSQL
// release register, while one of them is killed. .ci/postgres.sh builds such a cluster and runs
// this test against it; without CUSTOMS_CLUSTER_ADDRESS the test skips.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/auth"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/logging"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/register"
	"github.com/medsupply/customs/registry"
	"github.com/medsupply/customs/workflows"
)

// Environment the test reads.
const (
	// EnvAddress is the cluster's frontend host:port; the test skips without it.
	EnvAddress = "CUSTOMS_CLUSTER_ADDRESS"
	// EnvNamespace is the namespace the workers serve (default "default").
	EnvNamespace = "CUSTOMS_CLUSTER_NAMESPACE"
	// EnvReleaseDB is the workers' --release-db, a postgres:// URL, to check the register.
	EnvReleaseDB = "CUSTOMS_CLUSTER_RELEASE_DB"
	// EnvWorkerPIDs lists the worker processes, comma-separated; the test kills one mid-run.
	EnvWorkerPIDs = "CUSTOMS_CLUSTER_WORKER_PIDS"
	// EnvReport is a file the test writes what it covered to.
	EnvReport = "CUSTOMS_CLUSTER_REPORT"
	// EnvIssuerKey and EnvIssuerURL, set when the cluster verifies its callers, are the
	// issuer's key file and name: each party then calls with its own signed token.
	EnvIssuerKey = "CUSTOMS_CLUSTER_ISSUER_KEY"
	EnvIssuerURL = "CUSTOMS_CLUSTER_ISSUER_URL"
)

// parties are those the test acts as. On a cluster that trusts its callers one client serves
// them all; on one that verifies them (EnvIssuerKey), each signs in with its own token: the
// exporter of each declaration lodges it and supplies its documents, each officer decides as
// themself, and an auditor reads.
type parties struct {
	t       *testing.T
	ctx     context.Context
	address string
	ns      string
	issuer  *auth.Issuer
	people  map[string]workflows.Principal
	reader  client.Client
	clients map[string]client.Client
}

func newParties(t *testing.T, ctx context.Context, address, namespace string) *parties {
	t.Helper()
	p := &parties{t: t, ctx: ctx, address: address, ns: namespace, clients: map[string]client.Client{}}
	keyFile := os.Getenv(EnvIssuerKey)
	if keyFile == "" {
		c, err := connect.Dial(ctx, connect.Options{Address: address, Namespace: namespace},
			logging.NewSDKLogger(zaptest.NewLogger(t, zaptest.Level(zapcore.WarnLevel))))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		p.reader = c
		return p
	}
	key, err := auth.LoadKey(keyFile)
	if err != nil {
		t.Fatalf("%s: %v", EnvIssuerKey, err)
	}
	p.issuer = auth.NewIssuer(os.Getenv(EnvIssuerURL), auth.DevAudience, key)
	p.people = map[string]workflows.Principal{}
	for _, person := range auth.DevPeople(policy.DefaultRoster(), registry.Default().Exporters()) {
		p.people[person.Principal.Subject] = person.Principal
	}
	p.reader = p.as(workflows.Principal{Subject: "cluster-test-auditor", Roles: []string{workflows.RoleAuditor}})
	return p
}

func (p *parties) verified() bool { return p.issuer != nil }

type bearer string

func (b bearer) GetHeaders(context.Context) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

// as is the client of one principal, signed in with a token of its own.
func (p *parties) as(who workflows.Principal) client.Client {
	p.t.Helper()
	if c, ok := p.clients[who.Subject]; ok {
		return c
	}
	tok, err := p.issuer.Token(who, time.Hour, time.Now())
	if err != nil {
		p.t.Fatal(err)
	}
	c, err := client.DialContext(p.ctx, client.Options{HostPort: p.address, Namespace: p.ns, HeadersProvider: bearer(tok),
		Logger: logging.NewSDKLogger(zaptest.NewLogger(p.t, zaptest.Level(zapcore.WarnLevel)))})
	if err != nil {
		p.t.Fatalf("sign in as %s: %v", who.Subject, err)
	}
	p.t.Cleanup(c.Close)
	p.clients[who.Subject] = c
	return c
}

func (p *parties) person(subject string) client.Client {
	p.t.Helper()
	if !p.verified() {
		return p.reader
	}
	who, ok := p.people[subject]
	if !ok {
		p.t.Fatalf("%s is not in the directory", subject)
	}
	return p.as(who)
}

// exporter is the client of the exporter with customs code code, a user acting for it, whether
// or not the trader registry knows the exporter.
func (p *parties) exporter(code string) client.Client {
	if !p.verified() {
		return p.reader
	}
	return p.as(workflows.Principal{Subject: auth.ExporterSubject(code), Roles: []string{workflows.RoleExporter}, Exporter: code})
}

// officer is the client of the officer with roster ID id.
func (p *parties) officer(id string) client.Client { return p.person(id) }

// agencyOfficer is the client of agency a's officer id, in the agency's namespace.
func (p *parties) agencyOfficer(a, id string) client.Client {
	p.t.Helper()
	key := a + "/" + id
	if c, ok := p.clients[key]; ok {
		return c
	}
	opts := client.Options{HostPort: p.address, Namespace: agency.Namespace(a),
		Logger: logging.NewSDKLogger(zaptest.NewLogger(p.t, zaptest.Level(zapcore.WarnLevel)))}
	if p.verified() {
		tok, err := p.issuer.Token(workflows.Principal{Subject: id, Roles: []string{workflows.RoleOfficer}, Agency: a}, time.Hour, time.Now())
		if err != nil {
			p.t.Fatal(err)
		}
		opts.HeadersProvider = bearer(tok)
	}
	c, err := client.DialContext(p.ctx, opts)
	if err != nil {
		p.t.Fatalf("sign in as %s of %s: %v", id, a, err)
	}
	p.t.Cleanup(c.Close)
	p.clients[key] = c
	return c
}

// expectation is how an example's clearance ends; examples/README.md tells the same.
type expectation struct {
	lane  policy.Lane
	state workflows.State
	// askForQualityDeclaration: the document officer requests the missing quality declaration
	// and the exporter supplies it.
	askForQualityDeclaration bool
	// refusingAgency, when the clearance asks its permit (the worker runs the single window),
	// refuses it through its officer, and the clearance ends refused instead of as state.
	refusingAgency string
}

var expected = map[string]expectation{
	"us-nasal-cannulas-anaesthesia-masks.json":                {policy.LaneGreen, workflows.StateReleased, false, ""},
	"it-ffp2-respirators.json":                                {policy.LaneGreen, workflows.StateReleased, false, ""},
	"nl-examination-gloves-self-declared.json":                {policy.LaneGreen, workflows.StateReleased, false, ""},
	"de-antibody-test-kits.json":                              {policy.LaneYellow, workflows.StateReleased, false, ""},
	"us-n95-respirators-niosh.json":                           {policy.LaneYellow, workflows.StateReleased, false, ""},
	"fr-biological-class-b.json":                              {policy.LaneRed, workflows.StateReleased, false, ""},
	"expedited-emergency-ventilators.json":                    {policy.LaneRed, workflows.StateReleased, false, ""},
	"red-lane-repeat-refusals-protective-clothing.json":       {policy.LaneRed, workflows.StateReleased, false, ""},
	"es-masks-non-notified-body.json":                         {policy.LaneYellow, workflows.StateRefused, false, ""},
	"missing-documents-quality-declaration-thermometers.json": {policy.LaneGreen, workflows.StateReleased, true, ""},
	// Customs' own certification check finds the producer unlisted too, and its officer approves.
	"it-face-masks-unlisted-producer.json": {policy.LaneYellow, workflows.StateReleased, false, agency.SAMR},
}

// run is one clearance the test drives.
type run struct {
	file string
	// ref names the clearance: its exporter and declaration ID.
	ref      clearance.Ref
	exp      expectation
	done     bool
	asked    bool
	supplied bool
	result   workflows.Result
}

func TestClusterClearsEveryExample(t *testing.T) {
	address := os.Getenv(EnvAddress)
	if address == "" {
		t.Skipf("no cluster: set %s (and %s, %s, %s) to a running cluster, as .ci/postgres.sh does",
			EnvAddress, EnvNamespace, EnvReleaseDB, EnvWorkerPIDs)
	}
	namespace := os.Getenv(EnvNamespace)
	if namespace == "" {
		namespace = connect.DefaultNamespace
	}
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	who := newParties(t, ctx, address, namespace)
	c := who.reader
	pids := workerPIDs(t)
	var report []string

	// Declaration IDs are used once per namespace: a suffix of this run's own lets the test run
	// again on the same cluster. The random sample may then pick an otherwise green declaration,
	// which the expected lane follows.
	suffix := randomSuffix(t)
	runs := submitExamples(t, ctx, who, suffix)
	report = append(report, fmt.Sprintf("clearances submitted: %d (every valid example, IDs suffixed -%s)", len(runs), suffix))
	if who.verified() {
		report = append(report, fmt.Sprintf("callers verified: every party called with its own signed token (%d: exporters, officers, an auditor)", len(who.clients)))
	}

	decisions, killed := 0, 0
	deadline := time.Now().Add(7 * time.Minute)
	for pending(runs) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("clearances still running at the deadline:\n%s", describe(ctx, c, runs))
		}
		for _, r := range runs {
			if !r.done {
				decisions += drive(t, ctx, who, r)
			}
		}
		// Kill a worker once officers have decided and activities are being dispatched, while
		// clearances are in flight: the worker that holds the most of them in its cache.
		if killed == 0 && len(pids) > 1 && decisions >= 3 && pending(runs) > 0 {
			var held int
			killed, held = killBusiestWorker(t, ctx, c, runs, pids)
			report = append(report, fmt.Sprintf("killed worker pid %d", killed),
				fmt.Sprintf("  with SIGKILL after %d officer decisions, while %d of %d clearances ran, %d of them last handled by it",
					decisions, pending(runs), len(runs), held))
		}
		time.Sleep(300 * time.Millisecond)
	}
	if len(pids) > 1 && killed == 0 {
		t.Error("no worker was killed: the clearances ended before enough decisions were made")
	}

	released := checkResults(t, ctx, c, runs, who.verified())
	report = append(report, fmt.Sprintf("outcomes as expected: %d released, %d refused; %d officer decisions, %d request for information answered",
		released, len(runs)-released, decisions, count(runs, func(r *run) bool { return r.supplied })))
	report = append(report, workShared(t, ctx, c, runs, killed)...)
	if db := os.Getenv(EnvReleaseDB); db != "" {
		report = append(report, checkRegister(t, ctx, db, runs))
	} else {
		t.Logf("%s not set: the release register is not checked", EnvReleaseDB)
	}

	for _, line := range report {
		t.Log(line)
	}
	if path := os.Getenv(EnvReport); path != "" && !t.Failed() {
		if err := os.WriteFile(path, []byte(strings.Join(report, "\n")+"\n"), 0o644); err != nil {
			t.Error(err)
		}
	}
}

func workerPIDs(t *testing.T) []int {
	t.Helper()
	var pids []int
	for _, f := range strings.Split(os.Getenv(EnvWorkerPIDs), ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		pid, err := strconv.Atoi(f)
		if err != nil || pid <= 1 {
			t.Fatalf("%s: %q is not a process ID", EnvWorkerPIDs, f)
		}
		pids = append(pids, pid)
	}
	if len(pids) < 2 {
		t.Logf("%s lists %d workers: none is killed (it needs at least two)", EnvWorkerPIDs, len(pids))
	}
	return pids
}

func randomSuffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "c" + hex.EncodeToString(b)
}

// submitExamples starts a clearance of every example that validates; each must be in expected.
func submitExamples(t *testing.T, ctx context.Context, who *parties, suffix string) []*run {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "examples", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	var runs []*run
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		d, err := declaration.ParseAndValidate(b)
		var invalid *declaration.ValidationError
		if errors.As(err, &invalid) {
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		name := filepath.Base(path)
		exp, ok := expected[name]
		if !ok {
			t.Fatalf("%s is a valid example this test has no expectation for", name)
		}
		d.ID += "-" + suffix
		rating := ""
		if rec, ok, _ := registry.Default().ExporterRecord(ctx, d.Exporter.Code); ok {
			rating = string(rec.Rating)
		}
		if exp.lane == policy.LaneGreen && activities.Sampled(d.ID, policy.Default().SampleFor(rating)) {
			exp.lane = policy.LaneYellow
		}
		if _, err := clearance.Submit(ctx, who.exporter(d.Exporter.Code), d); err != nil {
			t.Fatalf("submit %s: %v", name, err)
		}
		runs = append(runs, &run{file: name, ref: clearance.RefOf(d), exp: exp})
	}
	if len(runs) != len(expected) {
		t.Fatalf("%d valid examples submitted, %d expected", len(runs), len(expected))
	}
	return runs
}

// drive looks at a clearance once and answers what it waits for, as an officer or as the
// exporter. It returns the number of officer decisions made.
func drive(t *testing.T, ctx context.Context, who *parties, r *run) int {
	t.Helper()
	c := who.reader
	callCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	s, err := clearance.Status(callCtx, c, r.ref)
	if err != nil {
		// A query may time out while the workflow's worker was just killed; ask again later.
		t.Logf("%s: status: %v", r.ref.Declaration, err)
		return 0
	}
	if s.State.Final() {
		r.done = true
		return 0
	}
	if r.exp.refusingAgency != "" && slices.ContainsFunc(s.Permits, func(p workflows.PermitRecord) bool {
		return p.Agency == r.exp.refusingAgency && p.Result == nil
	}) {
		// Its review goes on beside customs' stages: the agency's officer decides as soon as asked.
		refuseAsAgency(t, callCtx, who, r)
	}
	if r.exp.refusingAgency != "" && r.exp.state == workflows.StateRefused {
		// The agency has refused: the clearance ends refused as its answer arrives, and what it
		// waits for until then is not to be answered.
		return 0
	}
	if s.Waiting == nil {
		return 0
	}
	switch s.Waiting.For {
	case workflows.WaitingForExporter:
		if _, err := clearance.Supply(callCtx, who.exporter(r.ref.Exporter), r.ref, workflows.Supply{
			Documents: []declaration.Document{{Type: declaration.DocQualityDeclaration, Reference: "QD-" + r.ref.Declaration,
				Issued: time.Date(2020, 5, 6, 0, 0, 0, 0, time.UTC)}},
			Note: "manufacturer's quality declaration attached",
		}); err != nil {
			t.Logf("%s: supply: %v", r.ref.Declaration, err)
			return 0
		}
		r.supplied = true
		return 0
	case workflows.WaitingForOfficer:
	default:
		return 0
	}
	d := workflows.Decision{Stage: s.Stage, Officer: pickOfficer(s), Outcome: workflows.OutcomeApprove}
	if r.exp.refusingAgency != "" {
		// Customs' own checks find the producer unlisted too: an approval over it says why.
		d.Reason = "the producer's listing is the agency's to judge, on the single window"
	}
	if r.exp.askForQualityDeclaration && !r.asked && s.Stage == policy.StageDocumentCheck {
		d.Outcome = workflows.OutcomeRequestInformation
		d.Reason = "attach the manufacturer's quality declaration (announcement No. 5 of 2020)"
		d.Requested = []string{string(declaration.DocQualityDeclaration)}
	}
	if _, err := clearance.Decide(callCtx, who.officer(d.Officer), r.ref, d); err != nil {
		var refused *clearance.RefusedError
		if errors.As(err, &refused) {
			t.Errorf("%s: decision %+v refused: %v", r.ref.Declaration, d, err)
		} else {
			t.Logf("%s: decide: %v", r.ref.Declaration, err)
		}
		return 0
	}
	if d.Outcome == workflows.OutcomeRequestInformation {
		r.asked = true
	}
	return 1
}

// refuseAsAgency refuses the clearance's permit as an officer of r's refusing agency, once its
// review awaits one, in the agency's namespace.
func refuseAsAgency(t *testing.T, ctx context.Context, who *parties, r *run) {
	t.Helper()
	a := r.exp.refusingAgency
	roster, err := agency.DefaultRoster(a)
	if err != nil {
		t.Fatal(err)
	}
	officer := roster.Deciders()[0]
	c := who.agencyOfficer(a, officer)
	wid, err := r.ref.WorkflowID()
	if err != nil {
		t.Fatal(err)
	}
	review := agency.WorkflowID(agency.PermitRequest{RequestID: wid + "/" + a + "/1"})
	v, err := c.QueryWorkflow(ctx, review, "", agency.QueryStatus)
	var st agency.Status
	if err == nil {
		err = v.Get(&st)
	}
	if err != nil || st.Phase != agency.PhaseAwaitingOfficer {
		t.Logf("%s: %s's review: phase %s, %v", r.ref.Declaration, a, st.Phase, err)
		return
	}
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: review, UpdateName: agency.UpdateDecide,
		Args:         []any{agency.Decision{Officer: officer, Outcome: agency.OutcomeRefuse, Reason: "the producer is not on the list of qualified producers"}},
		WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	if err != nil {
		t.Errorf("%s: %s's officer %s refuses: %v", r.ref.Declaration, a, officer, err)
		return
	}
	r.exp.state = workflows.StateRefused
}

// pickOfficer returns an officer offered for the stage who has not decided an earlier stage of
// the clearance: the one who decided the biological review may not decide the release.
func pickOfficer(s workflows.Status) string {
	for _, o := range s.Waiting.Officers {
		if !slices.ContainsFunc(s.Decisions, func(d workflows.DecisionRecord) bool { return d.Officer == o }) {
			return o
		}
	}
	return s.Waiting.Officers[0]
}

func pending(runs []*run) int { return count(runs, func(r *run) bool { return !r.done }) }

func count(runs []*run, f func(*run) bool) int {
	n := 0
	for _, r := range runs {
		if f(r) {
			n++
		}
	}
	return n
}

// identities returns who completed each workflow task and activity of a clearance, in order.
func identities(ctx context.Context, c client.Client, ref clearance.Ref) (workflowTasks, activityTasks []string, err error) {
	wid, err := ref.WorkflowID()
	if err != nil {
		return nil, nil, err
	}
	it := c.GetWorkflowHistory(ctx, wid, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, nil, err
		}
		if a := e.GetWorkflowTaskCompletedEventAttributes(); a != nil {
			workflowTasks = append(workflowTasks, a.GetIdentity())
		}
		if a := e.GetActivityTaskStartedEventAttributes(); a != nil {
			activityTasks = append(activityTasks, a.GetIdentity())
		}
	}
	return workflowTasks, activityTasks, nil
}

// killBusiestWorker kills, with SIGKILL, the worker that completed the latest workflow task of
// the most running clearances (their histories are in its cache) and returns its PID and how
// many running clearances it held.
func killBusiestWorker(t *testing.T, ctx context.Context, c client.Client, runs []*run, pids []int) (int, int) {
	t.Helper()
	holds := map[int]int{}
	for _, r := range runs {
		if r.done {
			continue
		}
		wts, _, err := identities(ctx, c, r.ref)
		if err != nil || len(wts) == 0 {
			continue
		}
		if pid := identityPID(wts[len(wts)-1]); slices.Contains(pids, pid) {
			holds[pid]++
		}
	}
	victim := pids[0]
	for _, pid := range pids {
		if holds[pid] > holds[victim] {
			victim = pid
		}
	}
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatalf("kill worker %d: %v", victim, err)
	}
	// The process is gone, or a zombie its parent has not reaped, within moments.
	for range 50 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", victim))
		if err != nil || strings.Contains(string(b), ") Z ") {
			return victim, holds[victim]
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("worker %d still runs after SIGKILL", victim)
	return 0, 0
}

// identityPID reads the PID from an SDK worker identity, "pid@host@...".
func identityPID(identity string) int {
	pid, err := strconv.Atoi(strings.SplitN(identity, "@", 2)[0])
	if err != nil {
		return 0
	}
	return pid
}

func checkResults(t *testing.T, ctx context.Context, c client.Client, runs []*run, verified bool) int {
	t.Helper()
	released := 0
	for _, r := range runs {
		res, err := clearance.Wait(ctx, c, r.ref)
		if err != nil {
			t.Errorf("%s (%s): %v", r.ref.Declaration, r.file, err)
			continue
		}
		r.result = res
		if res.State != r.exp.state || res.Lane != r.exp.lane {
			t.Errorf("%s (%s) ended %s in the %s lane at %s (%s); want %s in the %s lane",
				r.ref.Declaration, r.file, res.State, res.Lane, res.Stage, res.Reason, r.exp.state, r.exp.lane)
		}
		if r.exp.askForQualityDeclaration && !r.supplied {
			t.Errorf("%s (%s) ended without the request for information being answered", r.ref.Declaration, r.file)
		}
		for _, d := range res.Decisions {
			if verified && d.Via == workflows.ViaUpdate && !d.Verified {
				t.Errorf("%s: the decision of %s on %s is not recorded as its verified caller's", r.ref.Declaration, d.Officer, d.Stage)
			}
		}
		switch res.State {
		case workflows.StateReleased:
			released++
			if res.Notice == nil || res.Notice.DeclarationID != r.ref.Declaration || res.Notice.Number == "" {
				t.Errorf("%s released with notice %+v", r.ref.Declaration, res.Notice)
			}
		default:
			if res.Notice != nil {
				t.Errorf("%s ended %s with a release notice %+v", r.ref.Declaration, res.State, res.Notice)
			}
		}
	}
	return released
}

// workShared reports which worker processes did the work; at least two must have.
func workShared(t *testing.T, ctx context.Context, c client.Client, runs []*run, killed int) []string {
	t.Helper()
	tasks := map[int]int{}
	for _, r := range runs {
		wts, ats, err := identities(ctx, c, r.ref)
		if err != nil {
			t.Errorf("history of %s: %v", r.ref.Declaration, err)
			continue
		}
		for _, id := range append(wts, ats...) {
			tasks[identityPID(id)]++
		}
	}
	var pids []int
	for pid := range tasks {
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	var parts []string
	for _, pid := range pids {
		note := ""
		if pid == killed {
			note = " (killed)"
		}
		parts = append(parts, fmt.Sprintf("pid %d%s: %d", pid, note, tasks[pid]))
	}
	if len(pids) < 2 {
		t.Errorf("one worker process did all the work: %v", parts)
	}
	return []string{fmt.Sprintf("tasks completed per worker process: %s", strings.Join(parts, ", "))}
}

// checkRegister compares the PostgreSQL release register with the clearances' results: one
// notice per released declaration, the one the workflow returned; none for the others.
func checkRegister(t *testing.T, ctx context.Context, dsn string, runs []*run) string {
	t.Helper()
	reg, err := register.OpenPostgres(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := reg.Close(); err != nil {
			t.Error(err)
		}
	}()
	numbers := map[string]string{}
	for _, r := range runs {
		n, found, err := reg.Get(ctx, r.ref.Exporter, r.ref.Declaration)
		if err != nil {
			t.Fatal(err)
		}
		if r.result.State != workflows.StateReleased {
			if found {
				t.Errorf("%s ended %s but the register holds notice %s", r.ref.Declaration, r.result.State, n.Number)
			}
			continue
		}
		if !found {
			t.Errorf("%s was released but the register holds no notice", r.ref.Declaration)
			continue
		}
		if want := r.result.Notice; want == nil || n.Number != want.Number || !n.IssuedAt.Equal(want.IssuedAt) {
			t.Errorf("%s: the register holds %+v, the clearance returned %+v", r.ref.Declaration, n, want)
		}
		if other, dup := numbers[n.Number]; dup {
			t.Errorf("notice %s issued to %s and %s", n.Number, other, r.ref.Declaration)
		}
		numbers[n.Number] = r.ref.Declaration
	}
	total, err := reg.Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("release register (%s): one notice for each of the %d released declarations, %d in all",
		reg.Where(), len(numbers), total)
}

// describe says where each running clearance stands, for a failure message.
func describe(ctx context.Context, c client.Client, runs []*run) string {
	var b strings.Builder
	for _, r := range runs {
		if r.done {
			continue
		}
		s, err := clearance.Status(ctx, c, r.ref)
		if err != nil {
			fmt.Fprintf(&b, "  %s: %v\n", r.ref.Declaration, err)
			continue
		}
		fmt.Fprintf(&b, "  %s: %s at %s, waiting %+v\n", r.ref.Declaration, s.State, s.Stage, s.Waiting)
	}
	return b.String()
}
