package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

// Kinds of trail rows.
const (
	RowSubmission    = "submission"
	RowConfiguration = "configuration"
	RowLane          = "lane"
	RowStage         = "stage"
	RowCheck         = "check"
	RowDecision      = "decision"
	RowReroute       = "reroute"
	RowExtension     = "extension"
	RowSupply        = "supply"
	RowWithdrawal    = "withdrawal"
	RowEscalation    = "escalation"
	RowLapse         = "lapse"
	RowReleaseNotice = "release-notice"
	RowRegistration  = "registration"
	RowWork          = "work"
	RowHold          = "hold"
	RowAmendment     = "amendment"
	RowAppeal        = "appeal"
	RowNotification  = "notification"
	RowOutcome       = "outcome"
	RowOther         = "other"
)

// ActorSystem is the actor of what the engine did by itself.
const ActorSystem = "system"

// Signal decision outcomes, as the trail shows them after the officer's outcome.
const (
	SignalApplied = "applied"
	SignalRefused = "refused (see refusedDecisions)"
	SignalPending = "not known yet (the clearance is running)"
)

// Row is one step of a clearance's decision trail.
type Row struct {
	EventID int64     `json:"eventId"`
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	// Actor is an officer's roster ID, "exporter CODE", or "system".
	Actor string `json:"actor"`
	// Verified is the request's caller as the server verified it from a signed token
	// (workflows.HeaderPrincipal); empty when the server did not verify callers.
	Verified string `json:"verified,omitempty"`
	What     string `json:"what"`
	Outcome  string `json:"outcome"`
	Reason   string `json:"reason,omitempty"`
}

// Trail is the decision trail of one clearance, reconstructed from its history's events alone.
type Trail struct {
	WorkflowID    string `json:"workflowId"`
	RunID         string `json:"runId,omitempty"`
	DeclarationID string `json:"declarationId"`
	Exporter      string `json:"exporter"`
	// State is how the clearance ended (released, refused, lapsed, withdrawn), "running", or the
	// workflow's own end (failed, terminated, ...).
	State string `json:"state"`
	// Events is the number of events in the history.
	Events int `json:"events"`
	// Digest is the history's canonical digest (see Digest), computed with DigestAlgorithm.
	Digest          string `json:"digest"`
	DigestAlgorithm string `json:"digestAlgorithm"`
	Rows            []Row  `json:"rows"`
}

// BuildTrail reconstructs the decision trail of a clearance from its history: the submission,
// the lane selected, each check and its findings, each officer decision (updates as accepted;
// signals with whether the workflow applied them, read from its result), reroutes, supplied
// documents, withdrawal, escalations, the release notice and the outcome. It reads nothing but
// the events, so it works on a closed clearance, a downloaded file and a running clearance alike.
// conv reads the payloads (the zero value for plain ones).
func BuildTrail(h *historypb.History, conv Converters) (*Trail, error) {
	if err := checkEvents(h); err != nil {
		return nil, err
	}
	start := conv.StartOf(h)
	if start.WorkflowType != workflows.WorkflowName {
		return nil, fmt.Errorf("the history is of workflow type %q, not %s", start.WorkflowType, workflows.WorkflowName)
	}
	if err := conv.checkReadable(h); err != nil {
		return nil, err
	}
	digest, err := Digest(h)
	if err != nil {
		return nil, err
	}
	b := &trailBuilder{
		conv: conv,
		dc:   conv.data(),
		t: &Trail{WorkflowID: start.WorkflowID, RunID: start.RunID, DeclarationID: start.DeclarationID,
			State: "running", Events: len(h.GetEvents()), Digest: digest, DigestAlgorithm: DigestAlgorithm},
		events:    h.GetEvents(),
		scheduled: map[int64]*historypb.HistoryEvent{},
		timers:    map[int64]*historypb.HistoryEvent{},
		updates:   map[string]int{},
	}
	for i, e := range b.events {
		b.event(i, e)
	}
	b.resolve()
	return b.t, nil
}

type trailBuilder struct {
	conv      Converters
	dc        converter.DataConverter
	t         *Trail
	events    []*historypb.HistoryEvent
	exporter  string
	scheduled map[int64]*historypb.HistoryEvent
	timers    map[int64]*historypb.HistoryEvent
	// updates maps an update ID to its row.
	updates map[string]int
	// signals lists the rows of decision signals with the decision each carried and the time the
	// workflow read it.
	signals    []signalRow
	escalated  []int
	result     *workflows.Result
	configured bool
	// stage is the stage the clearance is in.
	stage policy.Stage
}

type signalRow struct {
	row  int
	d    workflows.Decision
	read time.Time
}

func (b *trailBuilder) add(e *historypb.HistoryEvent, kind, actor, what, outcome, reason string) int {
	b.t.Rows = append(b.t.Rows, Row{EventID: e.GetEventId(), Time: e.GetEventTime().AsTime().UTC(), Kind: kind,
		Actor: actor, What: what, Outcome: outcome, Reason: reason})
	return len(b.t.Rows) - 1
}

func (b *trailBuilder) event(i int, e *historypb.HistoryEvent) {
	switch e.GetEventType() {
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
		b.started(e)
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
		b.scheduled[e.GetEventId()] = e
		name := activityType(e)
		if stage, ok := activities.CheckStage(name); ok && !strings.HasPrefix(b.summary(e), workflows.RecheckSummaryPrefix) {
			b.enterStage(e, stage)
		} else if name == activities.NameIssueReleaseNotice {
			b.enterStage(e, policy.StageRelease)
		}
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
		a := e.GetActivityTaskCompletedEventAttributes()
		b.activityCompleted(e, b.scheduled[a.GetScheduledEventId()], a.GetResult())
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED:
		a := e.GetActivityTaskFailedEventAttributes()
		b.activityFailed(e, b.scheduled[a.GetScheduledEventId()], a.GetFailure())
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
		a := e.GetActivityTaskTimedOutEventAttributes()
		s := b.scheduled[a.GetScheduledEventId()]
		b.add(e, RowOther, ActorSystem, b.activityWhat(s), "timed out", b.failureMessage(a.GetFailure()))
	case enumspb.EVENT_TYPE_MARKER_RECORDED:
		b.marker(e)
	case enumspb.EVENT_TYPE_TIMER_STARTED:
		b.timers[e.GetEventId()] = e
	case enumspb.EVENT_TYPE_TIMER_FIRED:
		b.timerFired(e)
	case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
		b.upsert(e)
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
		b.updateAccepted(e)
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
		b.updateCompleted(e)
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
		b.signaled(i, e)
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
		b.completed(e)
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
		b.t.State = "failed"
		b.add(e, RowOutcome, ActorSystem, "workflow failed", "failed", b.failureMessage(e.GetWorkflowExecutionFailedEventAttributes().GetFailure()))
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
		a := e.GetWorkflowExecutionTerminatedEventAttributes()
		b.t.State = "terminated"
		b.add(e, RowOutcome, orSystem(a.GetIdentity()), "workflow terminated", "terminated", a.GetReason())
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
		b.t.State = "timed-out"
		b.add(e, RowOutcome, ActorSystem, "workflow timed out", "timed out", "")
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
		b.t.State = "canceled"
		b.add(e, RowOutcome, ActorSystem, "workflow canceled", "canceled", "")
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
		b.t.State = "continued-as-new"
		b.add(e, RowOutcome, ActorSystem, "workflow continued as new", "continued as new",
			"run "+e.GetWorkflowExecutionContinuedAsNewEventAttributes().GetNewExecutionRunId())
	}
}

// LocalActivityMarker names the marker the SDK records for a local activity: its details hold
// the activity's type under "data" and its result under "result", or its failure.
const LocalActivityMarker = "LocalActivity"

// LocalActivityOf reads a local activity marker: the activity's type, its result, its failure.
func LocalActivityOf(dc converter.DataConverter, e *historypb.HistoryEvent) (activityType string, result *commonpb.Payloads, failure *failurepb.Failure, ok bool) {
	a := e.GetMarkerRecordedEventAttributes()
	if a.GetMarkerName() != LocalActivityMarker {
		return "", nil, nil, false
	}
	var data struct{ ActivityType string }
	if err := dc.FromPayloads(a.GetDetails()["data"], &data); err != nil {
		return "", nil, nil, false
	}
	return data.ActivityType, a.GetDetails()["result"], a.GetFailure(), true
}

// marker shows the local activities the trail knows: the registration of the declaration.
func (b *trailBuilder) marker(e *historypb.HistoryEvent) {
	name, result, failure, ok := LocalActivityOf(b.dc, e)
	if !ok || name != activities.NameRegisterDeclaration {
		return
	}
	what := "Register the declaration"
	if failure != nil {
		b.add(e, RowRegistration, ActorSystem, what, "refused", b.failureMessage(failure))
		return
	}
	var reg activities.Registered
	if err := b.dc.FromPayloads(result, &reg); err != nil {
		b.add(e, RowRegistration, ActorSystem, what, "unreadable", OneLine(err.Error()))
		return
	}
	b.add(e, RowRegistration, ActorSystem, what, "registration "+reg.Number, "accepted "+reg.LodgedAt.UTC().Format(time.RFC3339))
}

func orSystem(s string) string {
	if s == "" {
		return ActorSystem
	}
	return s
}

func (b *trailBuilder) started(e *historypb.HistoryEvent) {
	var in workflows.Input
	if err := b.dc.FromPayloads(e.GetWorkflowExecutionStartedEventAttributes().GetInput(), &in); err != nil {
		b.add(e, RowSubmission, "exporter", "declaration submitted", "submitted", "input unreadable: "+OneLine(err.Error()))
		return
	}
	d := in.Declaration
	b.exporter = "exporter " + d.Exporter.Code
	b.t.Exporter = strings.TrimSpace(d.Exporter.Code + " " + d.Exporter.Name)
	reason := clearance.Summary(d)
	if d.IsExpedited() {
		reason += ": " + d.Expedited.Justification
	}
	if k := in.Carried; k != nil {
		b.carried(e, d, *k, reason, in.Reopened)
		return
	}
	b.add(e, RowSubmission, b.exporter, "declaration "+d.ID+" submitted", "submitted", reason)
}

// carried writes the record a continued run was handed: the submission and every decision of the
// earlier runs, at their own times, then the continuation itself.
func (b *trailBuilder) carried(e *historypb.HistoryEvent, d declaration.Declaration, k workflows.Carried, reason string,
	reopened *workflows.AppealRecord) {
	var rows []Row
	row := func(at time.Time, kind, actor, what, outcome, why string) {
		rows = append(rows, Row{EventID: e.GetEventId(), Time: at.UTC(), Kind: kind, Actor: actor, What: what,
			Outcome: outcome, Reason: why})
	}
	row(k.Submitted, RowSubmission, b.exporter, "declaration "+d.ID+" submitted (carried from an earlier run)", "submitted", reason)
	for i, st := range k.Timeline {
		if i == len(k.Timeline)-1 && reopened == nil {
			continue // the stage in progress, which the run takes up
		}
		row(st.Started, RowStage, ActorSystem, "stage "+string(st.Stage)+" begins", "started", "carried from an earlier run")
	}
	for _, dec := range k.Decisions {
		actor := orSystem(dec.Officer)
		if dec.Agency != "" {
			actor = dec.Agency + ", relayed by " + dec.Officer
		}
		row(dec.At, RowDecision, actor, fmt.Sprintf("decide %s (%s, carried from an earlier run)", dec.Stage, dec.Via),
			string(dec.Outcome), dec.Reason)
	}
	for _, a := range k.Appeals {
		row(a.Decided, RowAppeal, a.Supervisor, "appeal "+a.Appeal+" upheld (carried from an earlier run)", "reopened at "+string(a.Stage), a.Reason)
	}
	if a := reopened; a != nil {
		refusedBy := "by rule"
		if a.RefusedBy != "" {
			refusedBy = "by " + a.RefusedBy
		}
		row(a.Lodged, RowAppeal, b.exporter, "appeal "+a.Appeal+" against the refusal at "+string(a.Stage)+" ("+refusedBy+")",
			"lodged", a.Grounds)
		row(a.Decided, RowAppeal, a.Supervisor, "decide appeal "+a.Appeal, "upheld", a.Reason)
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Time.Before(rows[j].Time) })
	b.t.Rows = append(b.t.Rows, rows...)
	if len(k.Timeline) > 0 && reopened == nil {
		b.stage = k.Timeline[len(k.Timeline)-1].Stage
		b.add(e, RowStage, ActorSystem, "stage "+string(b.stage)+" begins", "started", "carried from an earlier run")
	}
	if a := reopened; a != nil {
		b.add(e, RowAppeal, ActorSystem, "the clearance reopens at "+string(a.Stage), "reopened",
			fmt.Sprintf("from the refused run %s: %d decisions, %d stages carried", a.RefusedRunID, len(k.Decisions), len(k.Timeline)))
		return
	}
	b.add(e, RowOther, ActorSystem, fmt.Sprintf("run %d continues the clearance at %s", k.Run+1, k.Stage), "continued",
		fmt.Sprintf("from run %s: %d decisions, %d supplies, %d stages carried", k.PreviousRunID, len(k.Decisions), len(k.Supplies), len(k.Timeline)))
}

func (b *trailBuilder) exporterActor() string {
	if b.exporter == "" {
		return "exporter"
	}
	return b.exporter
}

// summary reads the summary the workflow gave an activity or timer.
func (b *trailBuilder) summary(e *historypb.HistoryEvent) string {
	return b.conv.payloadString(e.GetUserMetadata().GetSummary())
}

func activityType(s *historypb.HistoryEvent) string {
	return s.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
}

func (b *trailBuilder) activityWhat(s *historypb.HistoryEvent) string {
	if s == nil {
		return "activity"
	}
	if sum := b.summary(s); sum != "" {
		return sum
	}
	return activityType(s)
}

func isCheck(activity string) bool {
	_, ok := activities.CheckStage(activity)
	return ok
}

func (b *trailBuilder) activityCompleted(e, s *historypb.HistoryEvent, result *commonpb.Payloads) {
	name := activityType(s)
	what := b.activityWhat(s)
	switch {
	case name == activities.NameLoadConfiguration:
		if b.configured {
			return // the roster is read afresh before every wait for an officer
		}
		b.configured = true
		var cfg activities.Configuration
		if err := b.dc.FromPayloads(result, &cfg); err != nil {
			b.add(e, RowConfiguration, ActorSystem, what, "loaded", "unreadable: "+OneLine(err.Error()))
			return
		}
		b.add(e, RowConfiguration, ActorSystem, what, "loaded", fmt.Sprintf("standard %s, information deadline %s, %d officers",
			cfg.Policy.Standard, cfg.Policy.InformationDeadline, len(cfg.Roster.Officers)))
	case name == activities.NameSelectLane:
		var sel activities.LaneSelection
		if err := b.dc.FromPayloads(result, &sel); err != nil {
			b.add(e, RowLane, ActorSystem, what, "unreadable", OneLine(err.Error()))
			return
		}
		reason := strings.Join(sel.Reasons, "; ")
		if sel.Sampled {
			reason += " (random sample)"
		}
		b.add(e, RowLane, ActorSystem, what, string(sel.Lane)+" lane", reason)
	case isCheck(name):
		var res activities.CheckResult
		if err := b.dc.FromPayloads(result, &res); err != nil {
			b.add(e, RowCheck, ActorSystem, what, "unreadable", OneLine(err.Error()))
			return
		}
		outcome := "no findings"
		if n := len(res.Findings); n > 0 {
			outcome = fmt.Sprintf("%d finding(s), worst %s", n, res.Worst())
		}
		b.add(e, RowCheck, ActorSystem, what, outcome, findings(res.Findings))
	case name == activities.NameIssueReleaseNotice:
		var req activities.ReleaseRequest
		if err := b.dc.FromPayloads(s.GetActivityTaskScheduledEventAttributes().GetInput(), &req); err != nil {
			b.add(e, RowReleaseNotice, ActorSystem, what, "request unreadable", OneLine(err.Error()))
			return
		}
		var n activities.ReleaseNotice
		if err := b.dc.FromPayloads(result, &n); err != nil {
			b.add(e, RowReleaseNotice, ActorSystem, what, "unreadable", OneLine(err.Error()))
			return
		}
		actor, reason := ActorSystem, "automatic release, "+string(req.Lane)+" lane"
		if req.Officer != "" {
			actor, reason = req.Officer, "approved by release officer "+req.Officer+", "+string(req.Lane)+" lane"
		}
		b.add(e, RowReleaseNotice, actor, what, "notice "+n.Number, reason)
	case name == activities.NameNotifyExporter:
		var n activities.Notification
		if err := b.dc.FromPayloads(s.GetActivityTaskScheduledEventAttributes().GetInput(), &n); err != nil {
			b.add(e, RowNotification, ActorSystem, what, "delivered", "notification unreadable: "+OneLine(err.Error()))
			return
		}
		b.add(e, RowNotification, ActorSystem, what, "delivered", n.Message)
	default:
		b.add(e, RowOther, ActorSystem, what, "completed", "")
	}
}

func findings(fs []activities.Finding) string {
	parts := make([]string, 0, len(fs))
	for _, f := range fs {
		p := fmt.Sprintf("%s %s: %s", f.Severity, f.Code, f.Message)
		if f.Field != "" {
			p = fmt.Sprintf("%s %s (%s): %s", f.Severity, f.Code, f.Field, f.Message)
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

// failureMessage reads a failure's message, decrypted when the workers encrypt them.
func (b *trailBuilder) failureMessage(f *failurepb.Failure) string {
	if f == nil {
		return ""
	}
	return b.conv.failure().FailureToError(f).Error()
}

func (b *trailBuilder) activityFailed(e, s *historypb.HistoryEvent, f *failurepb.Failure) {
	name := activityType(s)
	what := b.activityWhat(s)
	var appErr *temporal.ApplicationError
	msg, errType := b.failureMessage(f), ""
	if errors.As(b.conv.failure().FailureToError(f), &appErr) {
		msg, errType = appErr.Message(), appErr.Type()
	}
	switch {
	case errType == activities.ErrInvalidCertificate || errType == activities.ErrInvalidDeclaration:
		reason := msg
		var res activities.CheckResult
		if appErr.HasDetails() && appErr.Details(&res) == nil && len(res.Findings) > 0 {
			var errs []activities.Finding
			for _, f := range res.Findings {
				if f.Severity == activities.SeverityError {
					errs = append(errs, f)
				}
			}
			if len(errs) > 0 {
				reason = findings(errs)
			}
		}
		b.add(e, RowCheck, ActorSystem, what, "refused by rule ("+errType+")", reason)
	case name == activities.NameNotifyExporter:
		b.add(e, RowNotification, ActorSystem, what, "not delivered", msg)
	default:
		outcome := "failed"
		if errType != "" {
			outcome += " (" + errType + ")"
		}
		b.add(e, RowOther, ActorSystem, what, outcome, msg)
	}
}

func (b *trailBuilder) timerFired(e *historypb.HistoryEvent) {
	started := b.timers[e.GetTimerFiredEventAttributes().GetStartedEventId()]
	sum := b.summary(started)
	kind, stage, allowance, _ := workflows.TimerOf(sum)
	switch kind {
	case workflows.TimerAllowance:
		b.escalated = append(b.escalated, b.add(e, RowEscalation, ActorSystem, "stage "+string(stage)+" overran its "+allowance,
			"escalated", ""))
	case workflows.TimerExporterDeadline:
		b.add(e, RowLapse, ActorSystem, sum+" passed", "deadline passed", "no documents supplied in time")
	default:
		if sum == "" {
			sum = "timer " + started.GetTimerStartedEventAttributes().GetTimerId()
		}
		b.add(e, RowOther, ActorSystem, sum, "fired", "")
	}
}

func (b *trailBuilder) upsert(e *historypb.HistoryEvent) {
	fields := e.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields()
	if p, ok := fields[workflows.SAStage]; ok {
		var stage string
		if b.dc.FromPayload(p, &stage) == nil && stage != "" {
			b.enterStage(e, policy.Stage(stage))
		}
	}
	if p, ok := fields[workflows.SASlaBreached]; ok {
		var breached bool
		if b.dc.FromPayload(p, &breached) == nil && breached {
			b.add(e, RowEscalation, ActorSystem, workflows.SASlaBreached+" set", "true", "")
		}
	}
}

// enterStage adds a row when the clearance enters a stage: where its checks are scheduled (or
// its release notice) or its ClearanceStage search attribute is set, whichever comes first.
func (b *trailBuilder) enterStage(e *historypb.HistoryEvent, stage policy.Stage) {
	if stage == b.stage {
		return
	}
	b.stage = stage
	b.add(e, RowStage, ActorSystem, "stage "+string(stage)+" begins", "started", "")
}

func (b *trailBuilder) updateAccepted(e *historypb.HistoryEvent) {
	req := e.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest()
	name := req.GetInput().GetName()
	args := req.GetInput().GetArgs()
	caller := verifiedCaller(req.GetInput().GetHeader())
	var row int
	switch name {
	case workflows.UpdateDecide:
		var d workflows.Decision
		if err := b.dc.FromPayloads(args, &d); err != nil {
			row = b.add(e, RowDecision, "officer", "decide (update)", "unreadable", OneLine(err.Error()))
			break
		}
		row = b.add(e, RowDecision, orCaller(d.Officer, caller), "decide "+string(d.Stage)+" (update)", string(d.Outcome), decisionReason(d))
	case workflows.UpdateReroute:
		var r workflows.Reroute
		if err := b.dc.FromPayloads(args, &r); err != nil {
			row = b.add(e, RowReroute, "officer", "reroute (update)", "unreadable", OneLine(err.Error()))
			break
		}
		row = b.add(e, RowReroute, orCaller(r.Officer, caller), "reroute (update)", "to the "+string(r.Lane)+" lane", r.Reason)
	case workflows.UpdateExtend:
		var x workflows.Extension
		if err := b.dc.FromPayloads(args, &x); err != nil {
			row = b.add(e, RowExtension, "officer", "extend (update)", "unreadable", OneLine(err.Error()))
			break
		}
		row = b.add(e, RowExtension, orCaller(x.Supervisor, caller), "extend "+string(x.Stage)+" (update)", "by "+x.By.String(), x.Reason)
	case workflows.UpdateSupplyDocuments:
		var s workflows.Supply
		if err := b.dc.FromPayloads(args, &s); err != nil {
			row = b.add(e, RowSupply, b.exporterActor(), "supply documents (update)", "unreadable", OneLine(err.Error()))
			break
		}
		var items []string
		for _, d := range s.Documents {
			items = append(items, string(d.Type)+" "+d.Reference)
		}
		for _, c := range s.Certificates {
			items = append(items, string(c.Scheme)+" "+c.Number)
		}
		reason := strings.Join(items, ", ")
		if s.Note != "" {
			reason += ": " + s.Note
		}
		row = b.add(e, RowSupply, b.exporterActor(), "supply documents (update)",
			fmt.Sprintf("%d document(s), %d certificate(s)", len(s.Documents), len(s.Certificates)), reason)
	case workflows.UpdateWithdraw:
		var w workflows.Withdrawal
		if err := b.dc.FromPayloads(args, &w); err != nil {
			row = b.add(e, RowWithdrawal, b.exporterActor(), "withdraw (update)", "unreadable", OneLine(err.Error()))
			break
		}
		row = b.add(e, RowWithdrawal, b.exporterActor(), "withdraw (update)", "withdrawn", w.Reason)
	case workflows.UpdateClaim, workflows.UpdateUnclaim:
		var r workflows.ClaimRequest
		if err := b.dc.FromPayloads(args, &r); err != nil {
			row = b.add(e, RowWork, "officer", name+" (update)", "unreadable", OneLine(err.Error()))
			break
		}
		outcome := "held by " + orCaller(r.Officer, caller)
		if name == workflows.UpdateUnclaim {
			outcome = "back to the queue"
		}
		row = b.add(e, RowWork, orCaller(r.Officer, caller), name+" "+string(b.stage)+" (update)", outcome, r.Reason)
	case workflows.UpdateReassign:
		var r workflows.Reassignment
		if err := b.dc.FromPayloads(args, &r); err != nil {
			row = b.add(e, RowWork, "officer", "reassign (update)", "unreadable", OneLine(err.Error()))
			break
		}
		outcome := "back to the queue"
		if r.Officer != "" {
			outcome = "held by " + r.Officer
		}
		row = b.add(e, RowWork, orCaller(r.Supervisor, caller), "reassign "+string(b.stage)+" (update)", outcome, r.Reason)
	case workflows.UpdateHold:
		var h workflows.Hold
		if err := b.dc.FromPayloads(args, &h); err != nil {
			row = b.add(e, RowHold, "officer", "hold (update)", "unreadable", OneLine(err.Error()))
			break
		}
		party := "customs"
		if h.Agency != "" {
			party = h.Agency
		}
		row = b.add(e, RowHold, orCaller(h.Supervisor, caller), "hold (update)", "held for "+party, h.Reason)
	case workflows.UpdateLift:
		var l workflows.Lift
		if err := b.dc.FromPayloads(args, &l); err != nil {
			row = b.add(e, RowHold, "officer", "lift (update)", "unreadable", OneLine(err.Error()))
			break
		}
		party := "customs"
		if l.Agency != "" {
			party = l.Agency
		}
		row = b.add(e, RowHold, orCaller(l.Supervisor, caller), "lift the hold of "+party+" (update)", l.Disposition, l.Reason)
	case workflows.UpdateAmend:
		var a workflows.Amendment
		if err := b.dc.FromPayloads(args, &a); err != nil {
			row = b.add(e, RowAmendment, b.exporterActor(), "amend (update)", "unreadable", OneLine(err.Error()))
			break
		}
		row = b.add(e, RowAmendment, b.exporterActor(), "amend (update)",
			fmt.Sprintf("%d line(s), %d removed, %d document(s), %d certificate(s)", len(a.Lines), len(a.RemoveLines),
				len(a.Documents), len(a.Certificates)), a.Reason)
	case workflows.UpdateDecideAmendment:
		var d workflows.AmendmentDecision
		if err := b.dc.FromPayloads(args, &d); err != nil {
			row = b.add(e, RowAmendment, "officer", "decide amendment (update)", "unreadable", OneLine(err.Error()))
			break
		}
		row = b.add(e, RowAmendment, orCaller(d.Officer, caller), fmt.Sprintf("decide amendment %d (update)", d.Amendment),
			d.Outcome, d.Reason)
	case workflows.UpdateLodgement:
		// The exporter's question, with the start, of what the lodgement came to: it changes
		// nothing; the answer is its result.
		row = b.add(e, RowSubmission, b.exporterActor(), "lodgement (update, with the start)", "asked", "")
	case workflows.UpdateNote:
		var n workflows.Note
		if err := b.dc.FromPayloads(args, &n); err != nil {
			row = b.add(e, RowWork, "officer", "note (update)", "unreadable", OneLine(err.Error()))
			break
		}
		row = b.add(e, RowWork, orCaller(n.Officer, caller), "note (update)", "noted", n.Text)
	default:
		row = b.add(e, RowOther, orSystem(req.GetMeta().GetIdentity()), "update "+name, "accepted", "")
	}
	b.t.Rows[row].Verified = caller
	b.updates[req.GetMeta().GetUpdateId()] = row
}

// verifiedCaller is the subject of the caller the server verified for a request, "" when it
// verified none.
func verifiedCaller(h *commonpb.Header) string {
	p, err := workflows.DecodePrincipal(h.GetFields())
	if err != nil {
		return "unreadable caller: " + OneLine(err.Error())
	}
	if p == nil {
		return ""
	}
	return p.Subject
}

// orCaller is the payload's officer, or the verified caller the clearance filled it from.
func orCaller(officer, caller string) string {
	if officer == "" {
		return caller
	}
	return officer
}

func decisionReason(d workflows.Decision) string {
	r := d.Reason
	if len(d.Requested) > 0 {
		if r != "" {
			r += "; "
		}
		r += "requested: " + strings.Join(d.Requested, ", ")
	}
	return r
}

func (b *trailBuilder) updateCompleted(e *historypb.HistoryEvent) {
	a := e.GetWorkflowExecutionUpdateCompletedEventAttributes()
	row, ok := b.updates[a.GetMeta().GetUpdateId()]
	if !ok {
		return
	}
	r := &b.t.Rows[row]
	if f := a.GetOutcome().GetFailure(); f != nil {
		r.Outcome = "failed: " + b.failureMessage(f)
		return
	}
	switch r.Kind {
	case RowSubmission:
		var l workflows.Lodgement
		if b.dc.FromPayloads(a.GetOutcome().GetSuccess(), &l) == nil && l.DeclarationID != "" {
			r.Outcome, r.Reason = "answered: accepted", l.Next
			if !l.Accepted {
				r.Outcome, r.Reason = "answered: refused", l.Reason
			}
		}
	case RowReroute:
		var rec workflows.RerouteRecord
		if b.dc.FromPayloads(a.GetOutcome().GetSuccess(), &rec) == nil && rec.From != "" {
			r.Outcome = fmt.Sprintf("from the %s to the %s lane", rec.From, rec.Lane)
		}
	case RowAmendment:
		// The amendment's number, status and diff are in its record, the update's result.
		var rec workflows.AmendmentRecord
		if b.dc.FromPayloads(a.GetOutcome().GetSuccess(), &rec) == nil && rec.Version > 0 && rec.Officer == "" {
			changes := make([]string, 0, len(rec.Changes))
			for _, c := range rec.Changes {
				changes = append(changes, c.String())
			}
			if rec.MoreChanges > 0 {
				changes = append(changes, fmt.Sprintf("and %d more", rec.MoreChanges))
			}
			r.Outcome = fmt.Sprintf("amendment %d %s: %s", rec.Version, rec.Status, strings.Join(changes, "; "))
		}
	}
}

func (b *trailBuilder) signaled(i int, e *historypb.HistoryEvent) {
	a := e.GetWorkflowExecutionSignaledEventAttributes()
	if a.GetSignalName() != workflows.SignalDecision {
		b.add(e, RowOther, orSystem(a.GetIdentity()), "signal "+a.GetSignalName(), "not handled by the workflow", "")
		return
	}
	var raw json.RawMessage
	var d workflows.Decision
	err := b.dc.FromPayloads(a.GetInput(), &raw)
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		err = dec.Decode(&d)
	}
	caller := verifiedCaller(a.GetHeader())
	if err != nil {
		row := b.add(e, RowDecision, "officer", "decide (signal)", "malformed, refused", OneLine(err.Error()))
		b.t.Rows[row].Verified = caller
		return
	}
	row := b.add(e, RowDecision, orCaller(d.Officer, caller), "decide "+string(d.Stage)+" (signal)", string(d.Outcome), decisionReason(d))
	b.t.Rows[row].Verified = caller
	b.signals = append(b.signals, signalRow{row: row, d: d, read: b.nextTaskStart(i)})
}

// nextTaskStart is the time of the first workflow task after event i: the workflow reads a
// signal there, and workflow.Now is that task's start.
func (b *trailBuilder) nextTaskStart(i int) time.Time {
	for _, e := range b.events[i+1:] {
		if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED {
			return e.GetEventTime().AsTime()
		}
	}
	return time.Time{}
}

func (b *trailBuilder) completed(e *historypb.HistoryEvent) {
	var r workflows.Result
	if err := b.dc.FromPayloads(e.GetWorkflowExecutionCompletedEventAttributes().GetResult(), &r); err != nil {
		b.t.State = "completed"
		b.add(e, RowOutcome, ActorSystem, "clearance ended", "unreadable result", OneLine(err.Error()))
		return
	}
	b.result = &r
	b.t.State = string(r.State)
	within := "within"
	if !r.WithinStandard {
		within = "over"
	}
	reason := r.Reason
	if r.Notice != nil {
		reason = "release notice " + r.Notice.Number
	}
	if reason != "" {
		reason += "; "
	}
	reason += fmt.Sprintf("elapsed %s, %s the %s standard", r.Elapsed, within, r.Standard)
	b.add(e, RowOutcome, ActorSystem, "clearance ended at "+string(r.Stage), string(r.State), reason)
}

// resolve fills in what only the result tells: whether each decision signal was applied, and
// the supervisor each escalation went to.
func (b *trailBuilder) resolve() {
	var applied []workflows.DecisionRecord
	if b.result != nil {
		for _, d := range b.result.Decisions {
			if d.Via == workflows.ViaSignal {
				applied = append(applied, d)
			}
		}
	}
	used := make([]bool, len(applied))
	for _, s := range b.signals {
		r := &b.t.Rows[s.row]
		if b.result == nil {
			r.Outcome += ", " + SignalPending
			continue
		}
		match := -1
		for j, d := range applied {
			if !used[j] && sameDecision(d.Decision, s.d) && d.At.Equal(s.read) {
				match = j
				break
			}
		}
		if match < 0 && s.read.IsZero() {
			for j, d := range applied {
				if !used[j] && sameDecision(d.Decision, s.d) {
					match = j
					break
				}
			}
		}
		if match >= 0 {
			used[match] = true
			r.Outcome += ", " + SignalApplied
		} else {
			r.Outcome += ", " + SignalRefused
		}
	}
	if b.result != nil {
		esc := b.result.Escalations
		for i, row := range b.escalated {
			if i < len(esc) && esc[i].Supervisor != "" {
				b.t.Rows[row].Outcome = "escalated to supervisor " + esc[i].Supervisor
			}
		}
	}
}

func sameDecision(a, b workflows.Decision) bool {
	return a.Stage == b.Stage && a.Officer == b.Officer && a.Outcome == b.Outcome && a.Reason == b.Reason &&
		strings.Join(a.Requested, "\x00") == strings.Join(b.Requested, "\x00")
}

// WriteTable writes the trail as a table for a person to read.
func (t *Trail) WriteTable(w io.Writer) error {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "Clearance %s of declaration %s, exporter %s\n", t.WorkflowID, declaration.Printable(t.DeclarationID),
		declaration.Printable(t.Exporter))
	if t.RunID != "" {
		fmt.Fprintf(&buf, "Run %s, ", t.RunID)
	}
	fmt.Fprintf(&buf, "%d events, state %s\n", t.Events, t.State)
	fmt.Fprintf(&buf, "History digest (%s): %s\n\n", t.DigestAlgorithm, t.Digest)
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME (UTC)\tEVENT\tACTOR\tWHAT\tOUTCOME\tREASON")
	for _, r := range t.Rows {
		actor := r.Actor
		switch {
		case r.Verified != "" && r.Verified == r.Actor:
			actor += " (verified)"
		case r.Verified != "":
			actor += " (caller " + r.Verified + ")"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", r.Time.Format("2006-01-02 15:04:05"), r.EventID,
			cell(actor), cell(r.What), cell(r.Outcome), cell(r.Reason))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// cell keeps a value on one line of the table, with what a terminal would obey escaped.
func cell(s string) string {
	s = declaration.Printable(strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s))
	if s == "" {
		return "-"
	}
	return s
}

// WriteJSON writes the trail as indented JSON.
func (t *Trail) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(t)
}
