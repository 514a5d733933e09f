package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
)

// QueryDeclaration returns the declaration as the clearance holds it now, with every supplied
// document and applied amendment: what an upheld appeal reopens. Its name sorts after "status",
// which the Web UI's Queries tab, listing queries by name, shows first.
const QueryDeclaration = "updated-declaration"

// AppealRecord is an upheld appeal against a refusal (EU Union Customs Code Art. 44, the Revised
// Kyoto Convention chapter 10), as the clearance it reopened keeps it: the appeal, the exporter's
// grounds, the supervisor who upheld it (not the officer who refused), why, and the run it reopened.
type AppealRecord struct {
	// Appeal is the appeal's workflow ID.
	Appeal string `json:"appeal"`
	// Stage is where the clearance was refused, and Refusal why.
	Stage   policy.Stage `json:"stage"`
	Refusal string       `json:"refusal"`
	// RefusedBy is the officer who refused, "" for a refusal by rule.
	RefusedBy string    `json:"refusedBy,omitempty"`
	Lodged    time.Time `json:"lodged"`
	Grounds   string    `json:"grounds"`
	// Supervisor upheld the appeal at Decided, with Reason.
	Supervisor string    `json:"supervisor"`
	Decided    time.Time `json:"decided"`
	Reason     string    `json:"reason"`
	// RefusedRunID is the run that ended refused; FirstRunID the clearance's first run.
	RefusedRunID string `json:"refusedRunId"`
	FirstRunID   string `json:"firstRunId"`
}

// setupDeclarationQuery registers QueryDeclaration.
func (c *clearance) setupDeclarationQuery(ctx workflow.Context) error {
	if err := workflow.SetQueryHandlerWithOptions(ctx, QueryDeclaration, func() (declaration.Declaration, error) {
		return c.decl, nil
	}, workflow.QueryHandlerOptions{
		Description: "The declaration as the clearance holds it now: as lodged, with the documents supplied and the amendments applied.",
	}); err != nil {
		return fmt.Errorf("register query %s: %w", QueryDeclaration, err)
	}
	return nil
}

// ReopenInput is the input of the run that reopens a refused clearance after a supervisor upheld
// the exporter's appeal a: the declaration as the refused run held it, the record its status
// showed, and the policy cfg the appeal was heard under. The new run takes up the refused stage,
// which its officer decides whatever its checks find.
func ReopenInput(decl declaration.Declaration, st Status, cfg activities.Configuration, a AppealRecord) Input {
	carried := Carried{
		PreviousRunID: a.RefusedRunID, Configuration: cfg, Selection: st.LaneSelection, Lane: st.Lane,
		Stage: a.Stage, State: StateChecking, Submitted: st.Submitted, SlaBreached: st.SlaBreached,
		Record: st.Record, Weighed: len(st.Findings), OfficerReview: true, Registration: st.Registration,
		FirstRunID: a.FirstRunID,
	}
	return Input{Declaration: decl, Carried: &carried, Reopened: &a}
}

// reopen takes up, in a new run, the stage a clearance was refused at, after a supervisor upheld
// the exporter's appeal: the stage begins again with a new allowance, its checks run again, and an
// officer decides it whatever they find (a refusal by rule among them included).
func (c *clearance) reopen(ctx workflow.Context, a AppealRecord) (Result, error) {
	c.Appeals = append(c.Appeals, a)
	c.FirstRunID = a.FirstRunID
	c.Overrule = c.Stage
	c.reason = ""
	workflow.GetLogger(ctx).Info("reopened on appeal", "declarationID", c.decl.ID, "stage", c.Stage,
		"appeal", a.Appeal, "supervisor", a.Supervisor)
	c.askAgain(ctx, true)
	return c.stages(ctx, c.Stage, false, true)
}
