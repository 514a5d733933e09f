package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/policy"
)

// recheck runs again the checks of the earlier stages that the exporter's answer at stage bears
// on (documents: the document check; certificates: the certification check), so that new
// evidence is checked where its rules live. It returns a refusal by rule, if one is found.
func (c *clearance) recheck(ctx workflow.Context, stage policy.Stage) (string, error) {
	last := c.Supplies[len(c.Supplies)-1]
	var earlier []policy.Stage
	for _, s := range c.path() {
		if s == stage {
			break
		}
		if (s == policy.StageDocumentCheck && last.Documents > 0) || (s == policy.StageCertificationCheck && last.Certificates > 0) {
			earlier = append(earlier, s)
		}
	}
	if len(earlier) == 0 || !c.rel.explicitPhases(ctx) {
		return "", nil
	}
	for _, s := range earlier {
		res, refusal, err := c.check(ctx, s)
		if err != nil {
			return "", err
		}
		if res != nil {
			c.Findings = append(c.Findings, StageFindings{Stage: s, Result: *res, Recheck: true})
		}
		if refusal != "" {
			return refusal, nil
		}
	}
	return "", nil
}

// needsOfficer reports whether an officer must decide the stage: the lane asks for it, the
// stage always has one, or the automated checks found something.
func (c *clearance) needsOfficer(stage policy.Stage, res *activities.CheckResult) bool {
	if res != nil && res.NeedsOfficer() {
		return true
	}
	return c.laneNeedsOfficer(stage)
}

// checkSummaries are the Web UI's summaries of each stage's checks.
var checkSummaries = map[policy.Stage]string{
	policy.StageDocumentCheck:      "Check documents are complete and consistent",
	policy.StageBiologicalReview:   "Pre-screen biological products",
	policy.StageCertificationCheck: "Verify certificates for",
	policy.StagePhysicalInspection: "Plan the physical inspection",
}

// RecheckSummaryPrefix starts the summary of an earlier stage's checks run again on an amended
// declaration, so that the Web UI and the auditor's trail tell them from the stage's own.
const RecheckSummaryPrefix = "Check again on the amendment: "

// check runs the stage's automated checks. A refusal by rule (an invalid certificate) comes back
// as a reason, with the findings that caused it.
func (c *clearance) check(ctx workflow.Context, stage policy.Stage) (*activities.CheckResult, string, error) {
	return c.checkAs(ctx, stage, "")
}

// checkAs is check with the activity's summary after prefix.
func (c *clearance) checkAs(ctx workflow.Context, stage policy.Stage, prefix string) (*activities.CheckResult, string, error) {
	in := activities.CheckInput{Declaration: c.decl, On: workflow.Now(ctx)}
	fn := activities.CheckActivity(stage)
	if fn == "" {
		return nil, "", nil
	}
	summary := prefix + checkSummaries[stage]
	if stage == policy.StageCertificationCheck {
		summary += " " + c.decl.Destination
	}
	var res activities.CheckResult
	err := c.stageActivity(ctx, summary, fn, in, &res)
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == activities.ErrInvalidDeclaration {
		return &res, appErr.Message(), nil
	}
	if errors.As(err, &appErr) && appErr.Type() == activities.ErrInvalidCertificate {
		if appErr.HasDetails() {
			if derr := appErr.Details(&res); derr != nil {
				return nil, "", fmt.Errorf("read certificate findings: %w", derr)
			}
		}
		res.Stage = stage
		return &res, refusalReason(appErr.Message(), res), nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("%s checks: %w", stage, err)
	}
	res.Stage = stage
	return &res, "", nil
}

// stageActivity runs one of the current stage's activities (a check, the roster refresh, the
// release notice) and returns its result in out. Retryable failures are retried without limit,
// as the clearance's release does it (see quiet.stageActivity).
func (c *clearance) stageActivity(ctx workflow.Context, summary string, fn, in, out any) error {
	run := func(actx workflow.Context) error {
		if in == nil {
			return workflow.ExecuteActivity(actx, fn).Get(actx, out)
		}
		return workflow.ExecuteActivity(actx, fn, in).Get(actx, out)
	}
	return c.rel.stageActivity(ctx, c, summary, run)
}

// retryable reports whether a stage activity's failure is worth another attempt: not a refusal by rule
// and not a cancellation.
func retryable(err error) bool {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && (appErr.Type() == activities.ErrInvalidCertificate || appErr.Type() == activities.ErrInvalidDeclaration) {
		return false
	}
	var canceled *temporal.CanceledError
	return !errors.As(err, &canceled)
}

// refusalReason builds the reason an exporter reads from the blocking findings.
func refusalReason(msg string, res activities.CheckResult) string {
	var parts []string
	for _, f := range res.Findings {
		if f.Severity == activities.SeverityError {
			parts = append(parts, f.Message)
		}
	}
	if len(parts) == 0 {
		return msg
	}
	return strings.Join(parts, "; ")
}

func retryPolicy() *temporal.RetryPolicy {
	return &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        5 * time.Minute,
		NonRetryableErrorTypes: []string{activities.ErrInvalidCertificate, activities.ErrInvalidDeclaration},
	}
}

// activityCtx gives automated checks their options: retried without limit (a registry that is
// down delays the clearance, it does not end it), each attempt bounded at 10 s, so an attempt
// lost with a crashed worker is retried on another within seconds; the checks take milliseconds.
// Under a backlog they are dispatched at the clearance's task priority (taskPriority).
func (c *clearance) activityCtx(ctx workflow.Context, summary string) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         retryPolicy(),
		Summary:             summary,
		Priority:            c.taskPriority(),
	})
}

// firstAttemptCtx gives a stage activity's first attempt its options: the same as activityCtx's, but a
// failure comes back to the workflow instead of being retried by the server.
func (c *clearance) firstAttemptCtx(ctx workflow.Context, summary string) workflow.Context {
	rp := retryPolicy()
	rp.MaximumAttempts = 1
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         rp,
		Summary:             summary,
		Priority:            c.taskPriority(),
	})
}
