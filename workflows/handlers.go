package workflows

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
)

// setup registers the query, updates and signal. Validators only read state: a refused update
// changes nothing and leaves no event in the history.
func (c *clearance) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandlerWithOptions(ctx, QueryStatus, func() (Status, error) {
		return c.status(workflow.Now(ctx)), nil
	}, workflow.QueryHandlerOptions{
		Description: "Where the clearance stands: stage, lane, state, what it waits for and from whom, " +
			"the findings of every check, every decision and the timeline against each stage's allowance.",
	}); err != nil {
		return fmt.Errorf("register query %s: %w", QueryStatus, err)
	}

	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateDecide,
		func(ctx workflow.Context, d Decision) (DecisionRecord, error) {
			return c.accept(ctx, d, ViaUpdate), nil
		},
		workflow.UpdateHandlerOptions{
			Validator: func(ctx workflow.Context, d Decision) error { return c.validateDecision(d) },
			Description: `An officer's decision on the current stage: {"stage":"document-check","officer":"doc-li",` +
				`"outcome":"approve|reject|request-information","reason":"...","requested":["..."]}. ` +
				"Refused, with the reason, when the stage is not the current one or not awaiting an officer, " +
				"the officer is unknown or lacks the stage's role, a reject or request has no reason, or the " +
				"officer who decided the biological review tries to decide the release.",
		}); err != nil {
		return fmt.Errorf("register update %s: %w", UpdateDecide, err)
	}

	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateReroute,
		func(ctx workflow.Context, r Reroute) (RerouteRecord, error) { return c.reroute(ctx, r) },
		workflow.UpdateHandlerOptions{
			Validator: func(ctx workflow.Context, r Reroute) error { return c.validateReroute(r) },
			Description: `A supervisor moves the clearance to another risk lane: {"officer":"sup-huang",` +
				`"lane":"green|yellow|red","reason":"..."}. The new lane applies from the next stage; ` +
				"red adds a physical inspection before release. Refused once the release stage has begun.",
		}); err != nil {
		return fmt.Errorf("register update %s: %w", UpdateReroute, err)
	}

	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateSupplyDocuments,
		func(ctx workflow.Context, s Supply) (SupplyRecord, error) { return c.supply(ctx, s), nil },
		workflow.UpdateHandlerOptions{
			Validator: func(ctx workflow.Context, s Supply) error { return c.validateSupply(s) },
			Description: "The exporter's answer to a request for information: " +
				`{"documents":[{"type":"quality-declaration","reference":"QD-1"}],"certificates":[...],"note":"..."}. ` +
				"The stage's checks run again and the officer reviews the answer. Refused unless documents are awaited.",
		}); err != nil {
		return fmt.Errorf("register update %s: %w", UpdateSupplyDocuments, err)
	}

	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateWithdraw,
		func(ctx workflow.Context, w Withdrawal) (State, error) {
			c.withdrawal = &w
			return StateWithdrawn, nil
		},
		workflow.UpdateHandlerOptions{
			Validator: func(ctx workflow.Context, w Withdrawal) error { return c.validateWithdrawal(w) },
			Description: `The exporter withdraws the declaration: {"reason":"..."}. ` +
				"Refused once the release has been approved or the clearance has ended.",
		}); err != nil {
		return fmt.Errorf("register update %s: %w", UpdateWithdraw, err)
	}

	ch := workflow.GetSignalChannelWithOptions(ctx, SignalDecision, workflow.SignalChannelOptions{
		Description: "The same decision as the update \"decide\", for clients that can only signal. " +
			"A decision that does not fit is not applied; it is listed under refusedDecisions in the status.",
	})
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var raw json.RawMessage
			ch.Receive(ctx, &raw)
			d, err := decodeDecision(raw)
			if err == nil {
				err = c.validateDecision(d)
			}
			if err != nil {
				c.refused = append(c.refused, RefusedDecision{Decision: d, At: workflow.Now(ctx), Reason: err.Error()})
				workflow.GetLogger(ctx).Warn("decision signal refused", "declarationID", c.decl.ID,
					"officer", d.Officer, "reason", err.Error())
				continue
			}
			c.accept(ctx, d, ViaSignal)
		}
	})
	return nil
}

func decodeDecision(raw json.RawMessage) (Decision, error) {
	var d Decision
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return d, fmt.Errorf("malformed decision: %v", err)
	}
	return d, nil
}

// validateDecision says why a decision cannot be applied now, or returns nil.
func (c *clearance) validateDecision(d Decision) error {
	if c.state.Final() {
		return fmt.Errorf("the clearance has ended (%s)", c.state)
	}
	if d.Stage == "" {
		return fmt.Errorf("stage: missing")
	}
	if d.Stage != c.stage {
		return fmt.Errorf("stage: %q is not the current stage (%s)", d.Stage, c.stage)
	}
	if c.state != StateAwaitingOfficer || c.pending != nil {
		return fmt.Errorf("stage: %s is not awaiting an officer's decision (the clearance is %s)", c.stage, c.state)
	}
	// Once a decision is taken the state stays awaiting-officer until the stage moves on (while
	// the release notice is issued or a refusal notified): a quiet clearance refuses meanwhile.
	if c.quiet && !c.deciding {
		return fmt.Errorf("stage: %s is not awaiting an officer's decision (it was decided; the clearance is acting on it)", c.stage)
	}
	if c.withdrawal != nil {
		return fmt.Errorf("the declaration is being withdrawn")
	}
	if d.Officer == "" {
		return fmt.Errorf("officer: missing")
	}
	o, ok := c.cfg.Roster.Find(d.Officer)
	if !ok {
		return fmt.Errorf("officer: %q is not on the roster", d.Officer)
	}
	role := policy.StageRole(d.Stage)
	if !o.Has(role) {
		return fmt.Errorf("officer: %q does not hold the role %s that decides %s", d.Officer, role, d.Stage)
	}
	switch d.Outcome {
	case OutcomeApprove:
	case OutcomeReject, OutcomeRequestInformation:
		if strings.TrimSpace(d.Reason) == "" {
			return fmt.Errorf("reason: required to %s", d.Outcome)
		}
	default:
		return fmt.Errorf("outcome: %q is not approve, reject or request-information", d.Outcome)
	}
	if why := c.separationOfDuties(d.Stage, d.Officer); why != "" {
		return fmt.Errorf("%s", why)
	}
	return nil
}

// accept records a valid decision for run to apply.
func (c *clearance) accept(ctx workflow.Context, d Decision, via Via) DecisionRecord {
	r := DecisionRecord{Decision: d, At: workflow.Now(ctx), Via: via}
	c.record(ctx, r)
	c.pending = &r
	return r
}

func (c *clearance) validateReroute(r Reroute) error {
	if c.state.Final() {
		return fmt.Errorf("the clearance has ended (%s)", c.state)
	}
	if c.stage == "" || c.lane == "" {
		return fmt.Errorf("the lane has not been selected yet")
	}
	if c.stage == policy.StageRelease || c.releasing {
		return fmt.Errorf("the release stage has begun; the lane can no longer change")
	}
	if r.Officer == "" {
		return fmt.Errorf("officer: missing")
	}
	o, ok := c.cfg.Roster.Find(r.Officer)
	if !ok {
		return fmt.Errorf("officer: %q is not on the roster", r.Officer)
	}
	if !contains(rolesOf(o), string(policy.RoleSupervisor)) {
		return fmt.Errorf("officer: %q is not a supervisor; only a supervisor may reroute", r.Officer)
	}
	if !policy.ValidLane(r.Lane) {
		return fmt.Errorf("lane: %q is not green, yellow or red", r.Lane)
	}
	if r.Lane == c.lane {
		return fmt.Errorf("lane: the clearance is already in the %s lane", r.Lane)
	}
	if c.lane == policy.LaneRed && c.stage == policy.StagePhysicalInspection {
		return fmt.Errorf("lane: the physical inspection has begun; it must be decided first")
	}
	if strings.TrimSpace(r.Reason) == "" {
		return fmt.Errorf("reason: required to reroute")
	}
	return nil
}

func rolesOf(o policy.Officer) []string {
	out := make([]string, len(o.Roles))
	for i, r := range o.Roles {
		out[i] = string(r)
	}
	return out
}

func (c *clearance) reroute(ctx workflow.Context, r Reroute) (RerouteRecord, error) {
	rec := RerouteRecord{Reroute: r, From: c.lane, At: workflow.Now(ctx)}
	c.reroutes = append(c.reroutes, rec)
	c.lane = r.Lane
	workflow.GetLogger(ctx).Info("lane rerouted", "declarationID", c.decl.ID, "officer", r.Officer,
		"from", rec.From, "lane", r.Lane)
	workflow.SetCurrentDetails(ctx, c.details(workflow.Now(ctx)))
	if c.quiet {
		return rec, c.publish(ctx)
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, LaneKey.ValueSet(string(r.Lane))); err != nil {
		return rec, fmt.Errorf("upsert lane: %w", err)
	}
	return rec, nil
}

func (c *clearance) validateSupply(s Supply) error {
	if c.state != StateAwaitingExporter || c.supplied {
		return fmt.Errorf("the clearance is not awaiting documents (it is %s)", c.state)
	}
	if len(s.Documents) == 0 && len(s.Certificates) == 0 {
		return fmt.Errorf("documents: supply at least one document or certificate")
	}
	var problems []string
	for i, d := range s.Documents {
		if d.Type == "" {
			problems = append(problems, fmt.Sprintf("documents[%d].type: missing", i))
		}
		if strings.TrimSpace(d.Reference) == "" {
			problems = append(problems, fmt.Sprintf("documents[%d].reference: missing", i))
		}
	}
	for i, ct := range s.Certificates {
		if ct.Scheme == "" {
			problems = append(problems, fmt.Sprintf("certificates[%d].scheme: missing", i))
		}
		if strings.TrimSpace(ct.Number) == "" {
			problems = append(problems, fmt.Sprintf("certificates[%d].number: missing", i))
		}
		if len(ct.Lines) == 0 {
			problems = append(problems, fmt.Sprintf("certificates[%d].lines: missing", i))
		}
	}
	if len(problems) == 0 {
		merged := c.decl
		merge(&merged, s)
		if err := merged.Validate(); err != nil {
			return fmt.Errorf("the declaration with these documents does not validate: %w", err)
		}
		return nil
	}
	return fmt.Errorf("%s", strings.Join(problems, "; "))
}

// merge adds supplied documents and certificates to the declaration; a certificate with the
// number of one already there replaces it.
func merge(d *declaration.Declaration, s Supply) {
	d.Documents = append(append([]declaration.Document(nil), d.Documents...), s.Documents...)
	certs := append([]declaration.Certificate(nil), d.Certificates...)
	for _, n := range s.Certificates {
		replaced := false
		for i := range certs {
			if certs[i].Scheme == n.Scheme && certs[i].Number == n.Number {
				certs[i], replaced = n, true
			}
		}
		if !replaced {
			certs = append(certs, n)
		}
	}
	d.Certificates = certs
}

func (c *clearance) supply(ctx workflow.Context, s Supply) SupplyRecord {
	merge(&c.decl, s)
	rec := SupplyRecord{Stage: c.stage, At: workflow.Now(ctx), Documents: len(s.Documents),
		Certificates: len(s.Certificates), Note: s.Note}
	c.supplies = append(c.supplies, rec)
	c.supplied = true
	return rec
}

func (c *clearance) validateWithdrawal(w Withdrawal) error {
	if c.state.Final() {
		return fmt.Errorf("the clearance has ended (%s)", c.state)
	}
	if c.releasing {
		return fmt.Errorf("the release has been approved; the declaration can no longer be withdrawn")
	}
	if c.withdrawal != nil {
		return fmt.Errorf("the declaration is already being withdrawn")
	}
	if c.pending != nil {
		return fmt.Errorf("an officer's decision is being applied; try again")
	}
	if strings.TrimSpace(w.Reason) == "" {
		return fmt.Errorf("reason: required to withdraw")
	}
	return nil
}

// status builds the answer to the status query.
func (c *clearance) status(now time.Time) Status {
	end := now
	if !c.ended.IsZero() {
		end = c.ended
	}
	timeline := append([]StageRecord(nil), c.timeline...)
	for i := range timeline {
		if timeline[i].Ended.IsZero() {
			timeline[i].Duration = policy.Duration(now.Sub(timeline[i].Started))
			timeline[i].Overrun = now.After(timeline[i].Due)
		}
	}
	return Status{
		Findings: orEmpty(c.findings), Decisions: orEmpty(c.decisions), Timeline: orEmpty(timeline),
		DeclarationID: c.decl.ID, Exporter: c.decl.Exporter.Code, Stage: c.stage, Lane: c.lane,
		LaneSelection: c.selection, State: c.state, Expedited: c.decl.IsExpedited(), SlaBreached: c.breached,
		Waiting: c.waiting, Refused: c.refused,
		Reroutes: c.reroutes, Supplies: c.supplies, Escalations: c.escalations,
		Notice: c.notice, Reason: c.reason, Submitted: c.submitted,
		Elapsed: policy.Duration(end.Sub(c.submitted)), Standard: c.cfg.Policy.Standard, Counting: c.cfg.Policy.Calendar.Name(),
	}
}

// details is the Web UI's current-details sentence: what is awaited, from whom, and by when.
func (c *clearance) details(now time.Time) string {
	var b strings.Builder
	switch c.state {
	case StateChecking:
		fmt.Fprintf(&b, "Running the automated checks of the %s stage (%s lane).", c.stage, c.lane)
	case StateAwaitingOfficer:
		w := c.waiting
		fmt.Fprintf(&b, "Awaiting a decision on **%s** from a %s (%s).", c.stage, w.Role, strings.Join(w.Officers, ", "))
		fmt.Fprintf(&b, " Allowance ends %s: %s.", w.Due.UTC().Format("2006-01-02 15:04 MST"), left(w.Due.Sub(now)))
	case StateAwaitingExporter:
		w := c.waiting
		fmt.Fprintf(&b, "Awaiting documents on **%s** from exporter %s: %s.", c.stage, w.Exporter, w.Reason)
		fmt.Fprintf(&b, " The declaration lapses at %s: %s.", w.Due.UTC().Format("2006-01-02 15:04 MST"), left(w.Due.Sub(now)))
	case StateReleased:
		fmt.Fprintf(&b, "Released under notice %s.", c.notice.Number)
	case StateRefused:
		fmt.Fprintf(&b, "Refused at %s: %s", c.stage, c.reason)
	case StateLapsed:
		fmt.Fprintf(&b, "Lapsed at %s: %s", c.stage, c.reason)
	case StateWithdrawn:
		fmt.Fprintf(&b, "Withdrawn by the exporter: %s", c.reason)
	}
	if c.breached && !c.state.Final() {
		e := c.escalations[len(c.escalations)-1]
		fmt.Fprintf(&b, " **Overdue**: %s overran its %s allowance; escalated to supervisor %s.", e.Stage, e.Allowance, e.Supervisor)
	}
	return b.String()
}

func left(d time.Duration) string {
	if d < time.Minute {
		return "the time is up"
	}
	return fmt.Sprintf("%s left", roundDuration(d))
}

func roundDuration(d time.Duration) string {
	d = d.Round(time.Minute)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	h := d / time.Hour
	m := (d - h*time.Hour) / time.Minute
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %dh", days, h)
	case h > 0:
		return fmt.Sprintf("%dh %dm", h, m)
	}
	return fmt.Sprintf("%dm", m)
}

// orEmpty makes a nil list an empty one, so JSON shows [] rather than null.
func orEmpty[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}
