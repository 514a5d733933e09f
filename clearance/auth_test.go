package clearance_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/medsupply/customs/auth"
	"github.com/medsupply/customs/auth/authtest"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/workflows"
)

// TestResubmissionUnderVerifiedCallersNamesTheOutcome: an exporter may not describe workflows
// when the server verifies callers, but it may ask its own clearance's status: a resubmission of
// a released declaration says it was released, one of a running clearance that it is running.
func TestResubmissionUnderVerifiedCallersNamesTheOutcome(t *testing.T) {
	defer func(d time.Duration) { clearance.PollInterval = d }(clearance.PollInterval)
	clearance.PollInterval = 20 * time.Millisecond
	v := authtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, c := range []struct {
		example, state string
	}{
		{"nl-examination-gloves-self-declared.json", "released"}, // green lane: released without officers
		{"de-antibody-test-kits.json", "running"},                // yellow lane: awaits an officer
	} {
		d := example(t, c.example)
		exporter := v.Client(t, workflows.Principal{Subject: auth.ExporterSubject(d.Exporter.Code), Roles: []string{workflows.RoleExporter},
			Exporter: d.Exporter.Code})
		run, err := clearance.Submit(ctx, exporter, d)
		if err != nil {
			t.Fatalf("%s: %v", d.ID, err)
		}
		if c.state == "released" {
			if res, err := clearance.Wait(ctx, exporter, clearance.RefOf(d)); err != nil || res.State != workflows.StateReleased {
				t.Fatalf("%s: %s, %v", d.ID, res.State, err)
			}
		}
		if _, err := exporter.DescribeWorkflowExecution(ctx, run.GetID(), ""); err == nil {
			t.Fatal("the exporter described a workflow: the server does not verify callers as this test needs")
		}
		_, err = clearance.Submit(ctx, exporter, d)
		var dup *clearance.DuplicateError
		if !errors.As(err, &dup) || dup.WorkflowID != run.GetID() || dup.State != c.state {
			t.Errorf("resubmission of %s: %v; want its clearance %s named %s", d.ID, err, run.GetID(), c.state)
		}
	}
}
