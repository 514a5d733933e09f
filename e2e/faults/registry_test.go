package faults

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/engine"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/register"
	"github.com/medsupply/customs/registry"
	"github.com/medsupply/customs/workflows"
)

// registryCall is one call the activities made to the registry.
type registryCall struct {
	workflowID string
	activity   string
	attempt    int32
	method     string
	arg        string
	failed     bool
}

// flakyRegistry is the shipped registry behind a downstream that fails: the first calls made
// for a clearance fail with a plain error, as a registry that cannot be reached does, then the
// calls go through. It records every call.
type flakyRegistry struct {
	registry.Registry
	mu sync.Mutex
	// failures is how many more calls fail, per workflow ID.
	failures map[string]int
	calls    []registryCall
}

var _ registry.Registry = (*flakyRegistry)(nil)

func newFlakyRegistry() *flakyRegistry {
	return &flakyRegistry{Registry: registry.Default(), failures: map[string]int{}}
}

// failFirst makes the next n calls for a clearance fail.
func (f *flakyRegistry) failFirst(workflowID string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures[workflowID] = n
}

// callsOf returns the calls made for a clearance.
func (f *flakyRegistry) callsOf(workflowID string) []registryCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []registryCall
	for _, c := range f.calls {
		if c.workflowID == workflowID {
			out = append(out, c)
		}
	}
	return out
}

// call records a call and returns the outage's error while it lasts.
func (f *flakyRegistry) call(ctx context.Context, method, arg string) error {
	c := registryCall{method: method, arg: arg}
	if activity.IsActivity(ctx) {
		info := activity.GetInfo(ctx)
		c.workflowID, c.activity, c.attempt = info.WorkflowExecution.ID, info.ActivityType.Name, info.Attempt
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failures[c.workflowID] > 0 {
		f.failures[c.workflowID]--
		c.failed = true
	}
	f.calls = append(f.calls, c)
	if c.failed {
		return fmt.Errorf("registry %s(%s): connection refused", method, arg)
	}
	return nil
}

func (f *flakyRegistry) NotifiedBody(ctx context.Context, n string) (registry.NotifiedBody, bool, error) {
	if err := f.call(ctx, "NotifiedBody", n); err != nil {
		return registry.NotifiedBody{}, false, err
	}
	return f.Registry.NotifiedBody(ctx, n)
}

func (f *flakyRegistry) FDAEstablishment(ctx context.Context, n string) (registry.FDAEstablishment, bool, error) {
	if err := f.call(ctx, "FDAEstablishment", n); err != nil {
		return registry.FDAEstablishment{}, false, err
	}
	return f.Registry.FDAEstablishment(ctx, n)
}

func (f *flakyRegistry) Clearance510K(ctx context.Context, n string) (registry.Clearance510K, bool, error) {
	if err := f.call(ctx, "Clearance510K", n); err != nil {
		return registry.Clearance510K{}, false, err
	}
	return f.Registry.Clearance510K(ctx, n)
}

func (f *flakyRegistry) EUA(ctx context.Context, n string) (registry.EUA, bool, error) {
	if err := f.call(ctx, "EUA", n); err != nil {
		return registry.EUA{}, false, err
	}
	return f.Registry.EUA(ctx, n)
}

func (f *flakyRegistry) NIOSHApproval(ctx context.Context, n string) (registry.NIOSHApproval, bool, error) {
	if err := f.call(ctx, "NIOSHApproval", n); err != nil {
		return registry.NIOSHApproval{}, false, err
	}
	return f.Registry.NIOSHApproval(ctx, n)
}

func (f *flakyRegistry) NMPARegistration(ctx context.Context, n string) (registry.NMPARegistration, bool, error) {
	if err := f.call(ctx, "NMPARegistration", n); err != nil {
		return registry.NMPARegistration{}, false, err
	}
	return f.Registry.NMPARegistration(ctx, n)
}

func (f *flakyRegistry) QualifiedProducer(ctx context.Context, n string) (registry.QualifiedProducer, bool, error) {
	if err := f.call(ctx, "QualifiedProducer", n); err != nil {
		return registry.QualifiedProducer{}, false, err
	}
	return f.Registry.QualifiedProducer(ctx, n)
}

func (f *flakyRegistry) ExporterRecord(ctx context.Context, n string) (registry.ExporterRecord, bool, error) {
	if err := f.call(ctx, "ExporterRecord", n); err != nil {
		return registry.ExporterRecord{}, false, err
	}
	return f.Registry.ExporterRecord(ctx, n)
}

// startFlakyWorker runs the clearance workflow and the real activities in the test process, on
// a namespace of its own, with the registry behind reg and a release register file of its own.
func startFlakyWorker(t *testing.T, reg registry.Registry) (client.Client, *register.SQLite) {
	t.Helper()
	ns := newNamespace(t)
	c := dial(t, srv.GetFrontendHostPort(), ns, "")
	releases, err := register.OpenSQLite(filepath.Join(t.TempDir(), "releases.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := releases.Close(); err != nil {
			t.Errorf("close register: %v", err)
		}
	})
	w := worker.New(c, workflows.TaskQueue, worker.Options{})
	engine.Register(w, &activities.Activities{Registry: reg, Releases: releases, Declarations: releases})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return c, releases
}

// TestRegistryOutageRetried has the registry fail the first calls of a green clearance with a
// plain error and then recover: the activity is retried until the registry answers and the
// clearance is released with exactly one notice.
func TestRegistryOutageRetried(t *testing.T) {
	t.Parallel()
	began := time.Now()
	flaky := newFlakyRegistry()
	c, releases := startFlakyWorker(t, flaky)

	const failures = 2
	d := fresh(t, exCannulas)
	wid := workflowID(t, clearance.RefOf(d))
	flaky.failFirst(wid, failures)
	ids := submitAll(t, c, d)
	results := awaitResults(c, ids, conditionTimeout).wait(t)
	assertReleasedOnce(t, releases, ids, results)

	calls := flaky.callsOf(wid)
	failed, maxAttempt, failedIn := 0, int32(0), ""
	for _, call := range calls {
		maxAttempt = max(maxAttempt, call.attempt)
		if call.failed {
			failed++
			failedIn = call.activity
		}
	}
	if failed != failures {
		t.Fatalf("%d registry calls failed, want %d", failed, failures)
	}
	// Each failed call ends its attempt; the attempt after the last failure succeeds.
	if maxAttempt != failures+1 {
		t.Errorf("highest attempt of any activity %d, want %d", maxAttempt, failures+1)
	}
	var attempts []int32
	for _, call := range calls {
		if call.activity == failedIn && !slices.Contains(attempts, call.attempt) {
			attempts = append(attempts, call.attempt)
		}
	}
	var recorded int32
	for _, r := range activityRuns(t, c, ids) {
		if r.activity == failedIn {
			recorded = r.attempt
		}
	}
	if recorded != failures+1 {
		t.Errorf("history records %s completed on attempt %d, want %d", failedIn, recorded, failures+1)
	}

	t.Logf("covered: 1 clearance, %d registry failures (plain errors) in %s: attempts %v, the last completed it; released, "+
		"1 notice in the register; %d registry calls in all; %s", failed, failedIn, attempts, len(calls), since(began))
}

// TestInvalidCertificateNotRetried takes the masks with a CE "certificate" from a body not
// notified for PPE through the document officer: the certification check fails with the
// business error InvalidCertificate, which is not retried (one VerifyCertificates attempt, one
// look-up of the body), and the clearance ends refused without a notice.
func TestInvalidCertificateNotRetried(t *testing.T) {
	t.Parallel()
	began := time.Now()
	flaky := newFlakyRegistry()
	c, releases := startFlakyWorker(t, flaky)

	d := fresh(t, exNonNotified)
	wid := workflowID(t, clearance.RefOf(d))
	var body string
	for _, cert := range d.Certificates {
		if registry.IsNotifiedBodyNumber(cert.Issuer) {
			body = cert.Issuer
		}
	}
	if body == "" {
		t.Fatalf("%s names no notified body", exNonNotified)
	}
	ids := submitAll(t, c, d)
	out := awaitResults(c, ids, conditionTimeout)
	awaitOfficer(t, c, clearance.RefOf(d), policy.StageDocumentCheck)
	decide(t, c, clearance.RefOf(d), approval(policy.StageDocumentCheck, "doc-li"))
	res := out.wait(t)[clearance.RefOf(d)]

	if res.State != workflows.StateRefused || res.Stage != policy.StageCertificationCheck || !strings.Contains(res.Reason, body) {
		t.Fatalf("ended %s at %s: %q; want refused at the certification check naming body %s", res.State, res.Stage, res.Reason, body)
	}
	if res.Notice != nil {
		t.Errorf("refused clearance carries notice %+v", res.Notice)
	}
	if _, found, err := releases.Get(context.Background(), d.Exporter.Code, d.ID); err != nil || found {
		t.Errorf("register lookup: found %v, error %v; want no notice", found, err)
	}

	var verifyAttempts []int32
	lookups := 0
	for _, call := range flaky.callsOf(wid) {
		if call.activity == "VerifyCertificates" && !slices.Contains(verifyAttempts, call.attempt) {
			verifyAttempts = append(verifyAttempts, call.attempt)
		}
		if call.method == "NotifiedBody" && call.arg == body {
			lookups++
		}
	}
	if !slices.Equal(verifyAttempts, []int32{1}) || lookups != 1 {
		t.Errorf("VerifyCertificates attempts %v and %d look-ups of body %s; want attempt 1 only and 1 look-up",
			verifyAttempts, lookups, body)
	}
	failure := verifyFailure(t, c, wid)
	if failure == nil {
		t.Fatal("no ActivityTaskFailed event for VerifyCertificates")
	}
	app := failure.GetApplicationFailureInfo()
	if app.GetType() != activities.ErrInvalidCertificate || !app.GetNonRetryable() {
		t.Errorf("VerifyCertificates failed with type %q, non-retryable %v; want %s, non-retryable",
			app.GetType(), app.GetNonRetryable(), activities.ErrInvalidCertificate)
	}

	t.Logf("covered: 1 clearance refused by rule: VerifyCertificates ran once (attempts %v), body %s looked up %d time(s), "+
		"failure %s non-retryable; no notice; %s", verifyAttempts, body, lookups, app.GetType(), since(began))
}

// verifyFailure returns the failure of the VerifyCertificates activity in a clearance's history,
// or nil.
func verifyFailure(t *testing.T, c client.Client, wid string) *failurepb.Failure {
	t.Helper()
	types := map[int64]string{}
	it := c.GetWorkflowHistory(ctxFor(t, conditionTimeout), wid, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", wid, err)
		}
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
			types[e.GetEventId()] = a.GetActivityType().GetName()
		}
		if a := e.GetActivityTaskFailedEventAttributes(); a != nil && types[a.GetScheduledEventId()] == "VerifyCertificates" {
			return a.GetFailure()
		}
	}
	return nil
}
