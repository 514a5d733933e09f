package clearance_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/server/temporaltest"
	"go.uber.org/zap"

	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/engine"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

// server starts a Temporal server with the engine's search attributes and a worker.
func server(t *testing.T) (client.Client, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := temporaltest.NewServer(temporaltest.WithT(t))
	c, ns := srv.GetDefaultClient(), srv.GetDefaultNamespace()
	if err := connect.RegisterSearchAttributes(ctx, c, ns); err != nil {
		t.Fatal(err)
	}
	cfg := engine.Config{DataDir: t.TempDir(), Notifications: "-"}
	e, err := engine.Open(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	})
	w := e.NewWorker(c, cfg)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return c, ns
}

func example(t *testing.T, name string) declaration.Declaration {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	d, err := declaration.ParseAndValidate(b)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// awaitOfficer polls the clearance r names until it waits on an officer.
func awaitOfficer(t *testing.T, ctx context.Context, c client.Client, r clearance.Ref) workflows.Status {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		s, err := clearance.Status(ctx, c, r)
		if err == nil && s.State == workflows.StateAwaitingOfficer {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never awaited an officer: %v %+v", r, err, s.State)
		}
	}
}

// TestTwoExportersLodgeTheSameDeclarationID: a declaration ID is the exporter's own reference,
// so another exporter's declaration under the same ID is a clearance of its own, and each
// exporter's reference reaches its own.
func TestTwoExportersLodgeTheSameDeclarationID(t *testing.T) {
	c, ns := server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a := example(t, "de-antibody-test-kits.json") // yellow lane: the document check awaits an officer
	b := a
	b.Exporter.Code, b.Exporter.Name = "3302960178", "Ningbo Medical Gloves Co."

	runA, err := clearance.Submit(ctx, c, a)
	if err != nil {
		t.Fatal(err)
	}
	runB, err := clearance.Submit(ctx, c, b)
	if err != nil {
		t.Fatalf("the second exporter's declaration %s was refused: %v", b.ID, err)
	}
	if runA.GetID() != "clearance-"+a.Exporter.Code+"-"+a.ID || runB.GetID() != "clearance-"+b.Exporter.Code+"-"+b.ID {
		t.Fatalf("workflow IDs %s and %s", runA.GetID(), runB.GetID())
	}
	for _, d := range []declaration.Declaration{a, b} {
		if s := awaitOfficer(t, ctx, c, clearance.RefOf(d)); s.Exporter != d.Exporter.Code {
			t.Errorf("%s answered with the clearance of exporter %s", clearance.RefOf(d), s.Exporter)
		}
	}
	// A decision on one exporter's clearance leaves the other's where it was.
	if _, err := clearance.Decide(ctx, c, clearance.RefOf(b), workflows.Decision{Stage: policy.StageDocumentCheck,
		Officer: "doc-li", Outcome: workflows.OutcomeApprove}); err != nil {
		t.Fatal(err)
	}
	if s := awaitOfficer(t, ctx, c, clearance.RefOf(a)); len(s.Decisions) != 0 || s.Stage != policy.StageDocumentCheck {
		t.Errorf("exporter A's clearance took B's decision: %+v at %s", s.Decisions, s.Stage)
	}

	// The same exporter lodging the same ID again meets its first clearance.
	_, err = clearance.Submit(ctx, c, a)
	var dup *clearance.DuplicateError
	if !errors.As(err, &dup) || dup.WorkflowID != runA.GetID() {
		t.Errorf("resubmission: %v, want a duplicate of %s", err, runA.GetID())
	}

	// Visibility finds both under the declaration ID, and each under its exporter.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		all, err := clearance.Lookup(ctx, c, ns, a.ID, "")
		if err == nil && len(all) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lookup of %s: %+v %v", a.ID, all, err)
		}
	}
	one, err := clearance.Lookup(ctx, c, ns, a.ID, b.Exporter.Code)
	if err != nil || len(one) != 1 || one[0].WorkflowID != runB.GetID() || one[0].Exporter != b.Exporter.Code {
		t.Errorf("lookup for exporter %s: %+v %v", b.Exporter.Code, one, err)
	}
}

// TestLegacyClearancesStayReachable: a clearance started under the legacy workflow ID
// clearance-<declaration ID> is read and decided through its exporter's reference, and is not
// another exporter's.
func TestLegacyClearancesStayReachable(t *testing.T) {
	c, ns := server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := example(t, "de-antibody-test-kits.json")
	opts, err := clearance.StartOptions(d)
	if err != nil {
		t.Fatal(err)
	}
	opts.ID, _ = workflows.LegacyWorkflowID(d.ID)
	// The start of the earlier release: without the DeclarationId search attribute.
	opts.TypedSearchAttributes = temporal.NewSearchAttributes(workflows.ExporterCodeKey.ValueSet(d.Exporter.Code),
		workflows.DestinationCountryKey.ValueSet(d.Destination), workflows.ProductCategoriesKey.ValueSet(d.CategoryList()),
		workflows.ExpeditedKey.ValueSet(d.IsExpedited()), workflows.StatusKey.ValueSet(string(workflows.StateChecking)),
		workflows.SlaBreachedKey.ValueSet(false))
	if _, err := c.ExecuteWorkflow(ctx, opts, workflows.WorkflowName, workflows.Input{Declaration: d}); err != nil {
		t.Fatal(err)
	}

	ref := clearance.RefOf(d)
	if s := awaitOfficer(t, ctx, c, ref); s.DeclarationID != d.ID {
		t.Fatalf("status of the legacy clearance: %+v", s)
	}
	other := clearance.Ref{Exporter: "3302960178", Declaration: d.ID}
	if s, err := clearance.Status(ctx, c, other); err == nil {
		t.Errorf("another exporter's reference reached the legacy clearance of %s: %+v", s.Exporter, s.State)
	}
	if _, err := clearance.Decide(ctx, c, other, workflows.Decision{Stage: policy.StageDocumentCheck,
		Officer: "doc-li", Outcome: workflows.OutcomeApprove}); err == nil {
		t.Error("a decision for another exporter's reference reached the legacy clearance")
	}
	if _, err := clearance.Decide(ctx, c, ref, workflows.Decision{Stage: policy.StageDocumentCheck,
		Officer: "doc-li", Outcome: workflows.OutcomeApprove}); err != nil {
		t.Fatalf("decide the legacy clearance: %v", err)
	}
	if id, err := clearance.Resolve(ctx, c, ref); err != nil || id != opts.ID {
		t.Errorf("resolve: %s %v, want %s", id, err, opts.ID)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		found, err := clearance.Lookup(ctx, c, ns, d.ID, d.Exporter.Code)
		if err == nil && len(found) == 1 && found[0].WorkflowID == opts.ID && found[0].Ref == ref {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lookup of the legacy clearance: %+v %v", found, err)
		}
	}
	if got := workflows.DeclarationOf(opts.ID, "", d.Exporter.Code); got != d.ID {
		t.Errorf("DeclarationOf(%s) = %s", opts.ID, got)
	}
}

// TestWaitForALegacyClearance: Wait finds a clearance under the legacy workflow ID when none
// runs under its exporter's, and reads its result.
func TestWaitForALegacyClearance(t *testing.T) {
	c, _ := server(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := example(t, "us-nasal-cannulas-anaesthesia-masks.json") // green: released without officers
	opts, err := clearance.StartOptions(d)
	if err != nil {
		t.Fatal(err)
	}
	opts.ID, _ = workflows.LegacyWorkflowID(d.ID)
	if _, err := c.ExecuteWorkflow(ctx, opts, workflows.WorkflowName, workflows.Input{Declaration: d}); err != nil {
		t.Fatal(err)
	}
	res, err := clearance.Wait(ctx, c, clearance.RefOf(d))
	if err != nil || res.State != workflows.StateReleased || res.DeclarationID != d.ID {
		t.Fatalf("wait for the legacy clearance: %+v, %v", res.State, err)
	}
	if _, err := clearance.Wait(ctx, c, clearance.Ref{Exporter: "3301960412", Declaration: d.ID}); err == nil {
		t.Error("another exporter's reference waited for the legacy clearance")
	}
}
