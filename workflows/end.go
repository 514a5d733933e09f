package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/policy"
)

// release issues the release notice (once per declaration) and tells the exporter.
func (c *clearance) release(ctx workflow.Context, officer string) error {
	c.enter(ctx, PhaseReleasing)
	var n activities.ReleaseNotice
	// The release register issues one notice per declaration, however many attempts it takes.
	req := activities.ReleaseRequest{DeclarationID: c.decl.ID, ExporterCode: c.decl.Exporter.Code, Lane: c.Lane, Officer: officer,
		WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID, RunID: c.firstRun(ctx)}
	if c.Registration != nil {
		req.Registration = c.Registration.Number
	}
	if err := c.stageActivity(ctx, "Issue the release notice", a.IssueReleaseNotice, req, &n); err != nil {
		return fmt.Errorf("issue release notice: %w", err)
	}
	c.notice = &n
	registered := ""
	if c.Registration != nil {
		registered = " (registration " + c.Registration.Number + ")"
	}
	c.notify(ctx, activities.Notification{Kind: activities.NotifyReleased, Notice: n.Number,
		Message: fmt.Sprintf("Declaration %s%s released under notice %s; the goods may be loaded", c.decl.ID, registered, n.Number)})
	return nil
}

// notify tells the exporter. A notification that cannot be delivered after its retries is
// logged and does not hold up the clearance: the status and result carry the same facts.
func (c *clearance) notify(ctx workflow.Context, n activities.Notification) {
	n.DeclarationID, n.ExporterCode = c.decl.ID, c.decl.Exporter.Code
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    10 * time.Second,
		ScheduleToCloseTimeout: time.Hour,
		RetryPolicy:            retryPolicy(),
		Summary:                "Notify the exporter: " + string(n.Kind),
		Priority:               c.taskPriority(),
	})
	if err := workflow.ExecuteActivity(actx, a.NotifyExporter, n).Get(actx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("exporter notification failed", "declarationID", c.decl.ID,
			"kind", n.Kind, "error", err)
	}
}

func (c *clearance) endStage(ctx workflow.Context, idx int, outcome string) {
	now := workflow.Now(ctx)
	r := &c.Timeline[idx]
	r.Ended = now
	r.Duration = policy.Duration(now.Sub(r.Started))
	if outcome == OutcomeWithdrawn && c.refusedBy != "" {
		outcome = OutcomeRefused // another agency refused the goods
	}
	r.Outcome = outcome
	r.Overrun = r.Ended.After(r.Due)
	if c.Overrule == r.Stage {
		c.Overrule = ""
	}
	if c.Claim != nil && c.Claim.Stage == r.Stage {
		c.Claim = nil // the next stage is another queue's
	}
	c.metrics(ctx, map[string]string{"stage": string(r.Stage), "outcome": outcome}).
		Timer(MetricStageDuration).Record(r.Duration.D())
	workflow.GetLogger(ctx).Info("stage ended", "declarationID", c.decl.ID, "stage", r.Stage,
		"outcome", outcome, "duration", r.Duration.D())
}

// finish ends the clearance in state s.
func (c *clearance) finish(ctx workflow.Context, s State) (Result, error) {
	c.ended = workflow.Now(ctx)
	c.phase = PhaseEnded
	if p := c.awaitingConsent(); p != nil {
		p.Status = AmendmentUndecided
		c.ProposedAmendment = nil
	}
	// Permits the agencies have not answered are withdrawn: their reviews end.
	if err := c.withdrawPermits(ctx); err != nil {
		return Result{}, err
	}
	if err := c.setState(ctx, s); err != nil {
		return Result{}, err
	}
	// Let handlers that are still running (a late decision's update) answer their callers.
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return Result{}, err
	}
	elapsed := c.ended.Sub(c.Submitted)
	std := c.Configuration.Policy.Standard.D()
	counted, trader := elapsed, time.Duration(0)
	for _, st := range c.Timeline {
		counted -= st.ClockStopped.D()
		trader += st.ExporterWait.D()
	}
	for _, p := range c.Permits {
		trader += p.ExporterWait.D() // the exporter's answers to the agencies' requests
	}
	h := c.metrics(ctx, map[string]string{"state": string(s)})
	h.Timer(MetricClearanceDuration).Record(elapsed)
	h.Counter(MetricClearancesEnded).Inc(1)
	workflow.GetLogger(ctx).Info("clearance ended", "declarationID", c.decl.ID, "state", s,
		"elapsed", elapsed, "standard", std)
	heldByCustoms, heldByAgencies := c.heldTimes(c.ended)
	// Each agency's time, a span two agencies held the clearance at once shared between them, and
	// the time any agency held it.
	byAgency, agencies := agencyTimesApart(c.Holds, c.Permits, nil, c.ended)
	if byAgency != nil {
		heldByAgencies = agencies.D()
	}
	c.result = &Result{
		Amendments: c.Amendments, Appeals: c.Appeals,
		Holds: c.Holds, HeldTime: policy.Duration(heldByCustoms), OtherAgencyTime: policy.Duration(heldByAgencies),
		Permits: c.Permits, AgencyTime: byAgency,
		DeclarationID: c.decl.ID, State: s, Lane: c.Lane, Expedited: c.decl.IsExpedited(),
		Notice: c.notice, Stage: c.Stage, Reason: c.reason, RefusedAsLodged: c.refusedAsLodged, Registration: c.Registration,
		Submitted: c.Submitted, Ended: c.ended,
		Timeline: c.Timeline, Decisions: c.Decisions, Escalations: c.Escalations,
		Elapsed: policy.Duration(elapsed), Standard: policy.Duration(std),
		Counted: policy.Duration(counted), TraderTime: policy.Duration(trader),
		WithinStandard: counted <= std, Margin: policy.Duration(std - counted), Counting: c.Configuration.Policy.Calendar.Name(),
	}
	return *c.result, nil
}

// Metric names. The SDK's handler drops them while a workflow replays, so each is recorded once.
const (
	// MetricStageDuration is a histogram of stage durations by stage, lane, procedure, outcome.
	MetricStageDuration = "clearance_stage_duration"
	// MetricClearanceDuration is a histogram of total durations by final state, lane, procedure.
	MetricClearanceDuration = "clearance_duration"
	// MetricClearancesEnded counts ended clearances by final state, lane, procedure.
	MetricClearancesEnded = "clearance_ended"
	// MetricDecisions counts decisions by stage, outcome and channel (update, signal, automatic).
	MetricDecisions = "clearance_decisions"
	// MetricSLABreaches counts stages that overran their allowance, by stage, lane, procedure.
	MetricSLABreaches = "clearance_sla_breaches"
)

// metrics returns the replay-safe metrics handler tagged with the clearance's lane and
// procedure and the given tags.
func (c *clearance) metrics(ctx workflow.Context, tags map[string]string) client.MetricsHandler {
	procedure := "standard"
	if c.decl.IsExpedited() {
		procedure = "expedited"
	}
	tags["lane"], tags["procedure"] = string(c.Lane), procedure
	return workflow.GetMetricsHandler(ctx).WithTags(tags)
}

// record keeps a decision and counts it.
func (c *clearance) record(ctx workflow.Context, r DecisionRecord) {
	c.Decisions = append(c.Decisions, r)
	c.metrics(ctx, map[string]string{"stage": string(r.Stage), "outcome": string(r.Outcome), "via": string(r.Via)}).
		Counter(MetricDecisions).Inc(1)
}
