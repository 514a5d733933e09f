// Package clearance is the client side of the clearance engine: it starts clearances and talks
// to running ones (status, documents, withdrawal, decisions) over a Temporal client. The
// exporter's starter, the tests and the tools share it, so there is one rule for workflow IDs
// and start options.
package clearance

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/medsupply/customs/appeal"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/workflows"
)

// Ref names a clearance the way its exporter does: the exporter's customs code and the
// declaration ID, which is the exporter's own reference and unique per exporter only.
type Ref struct {
	Exporter    string
	Declaration string
}

// RefOf returns the Ref of a declaration.
func RefOf(d declaration.Declaration) Ref { return Ref{Exporter: d.Exporter.Code, Declaration: d.ID} }

func (r Ref) String() string { return r.Declaration + " of exporter " + r.Exporter }

// WorkflowID returns the workflow ID of the clearance r names.
func (r Ref) WorkflowID() (string, error) { return workflows.WorkflowID(r.Exporter, r.Declaration) }

// Resolve returns the workflow ID under which the clearance r names runs or ran: its own
// (workflows.WorkflowID), or, when the server knows none under it, the legacy one of a clearance
// started before workflow IDs named the exporter (workflows.LegacyWorkflowID), provided that
// clearance's status names r's exporter. A legacy clearance of another exporter is not r's: the
// answer is then r's own workflow ID, which the server does not know.
func Resolve(ctx context.Context, c client.Client, r Ref) (string, error) {
	id, err := r.WorkflowID()
	if err != nil {
		return "", err
	}
	if _, err := c.QueryWorkflow(ctx, id, "", workflows.QueryStatus); isNotFound(err) {
		if legacy, ok := legacyOf(ctx, c, r); ok {
			return legacy, nil
		}
	}
	return id, nil
}

// legacyOf returns the legacy workflow ID of r's declaration when a clearance runs or ran under
// it and its status names r's exporter and declaration.
func legacyOf(ctx context.Context, c client.Client, r Ref) (string, bool) {
	_, s, ok := legacyStatus(ctx, c, r)
	return s, ok
}

// legacyStatus is legacyOf with the legacy clearance's status.
func legacyStatus(ctx context.Context, c client.Client, r Ref) (workflows.Status, string, bool) {
	var s workflows.Status
	legacy, err := workflows.LegacyWorkflowID(r.Declaration)
	if err != nil {
		return s, "", false
	}
	v, err := c.QueryWorkflow(ctx, legacy, "", workflows.QueryStatus)
	if err != nil || v.Get(&s) != nil || s.Exporter != r.Exporter || s.DeclarationID != r.Declaration {
		return s, "", false
	}
	return s, legacy, true
}

// Found is a clearance Lookup found.
type Found struct {
	Ref
	WorkflowID string
}

// Lookup finds in visibility the clearances of a declaration ID: at most one per exporter, since
// declaration IDs are unique per exporter only, among them one under the legacy workflow ID. With
// exporter set it finds only that exporter's. Only clearances count: an appeal carries its
// declaration's ID and exporter as search attributes too, but it is not a clearance of the
// declaration. The caller must be allowed to list workflows, as officers, supervisors and
// auditors are.
func Lookup(ctx context.Context, c client.Client, namespace, declarationID, exporter string) ([]Found, error) {
	legacy, err := workflows.LegacyWorkflowID(declarationID)
	if err != nil {
		return nil, err
	}
	query := fmt.Sprintf("WorkflowType = '%s' AND (%s = '%s' OR WorkflowId = '%s')", workflows.WorkflowName,
		workflows.SADeclarationID, declarationID, legacy)
	if exporter != "" {
		if _, err := workflows.WorkflowID(exporter, declarationID); err != nil {
			return nil, err
		}
		query += fmt.Sprintf(" AND %s = '%s'", workflows.SAExporterCode, exporter)
	}
	resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: namespace, Query: query, PageSize: 100})
	if err != nil {
		return nil, fmt.Errorf("look up the clearance of declaration %s: %w", declarationID, err)
	}
	var out []Found
	seen := map[string]bool{}
	for _, e := range resp.GetExecutions() {
		id := e.GetExecution().GetWorkflowId()
		if seen[id] || !isClearance(e) {
			continue // a clearance continued as new, or reopened on appeal, lists each run
		}
		seen[id] = true
		var code string
		if p, ok := e.GetSearchAttributes().GetIndexedFields()[workflows.SAExporterCode]; ok {
			_ = converter.GetDefaultDataConverter().FromPayload(p, &code)
		}
		if exporter != "" && code != "" && code != exporter {
			continue
		}
		out = append(out, Found{Ref: Ref{Exporter: code, Declaration: declarationID}, WorkflowID: id})
	}
	return out, nil
}

// isClearance reports whether a listed workflow is a clearance: of the clearance's workflow type
// when the listing names it, and under a clearance's workflow ID, never an appeal's.
func isClearance(e *workflowpb.WorkflowExecutionInfo) bool {
	if t := e.GetType().GetName(); t != "" && t != workflows.WorkflowName {
		return false
	}
	return strings.HasPrefix(e.GetExecution().GetWorkflowId(), workflows.WorkflowIDPrefix)
}

// Exporters lists the exporters of what Lookup found, each once, sorted: more than one means the
// declaration ID is ambiguous without the exporter.
func Exporters(found []Found) []string {
	var codes []string
	for _, f := range found {
		if !slices.Contains(codes, f.Exporter) {
			codes = append(codes, f.Exporter)
		}
	}
	slices.Sort(codes)
	return codes
}

// DuplicateError reports a declaration whose clearance already exists.
type DuplicateError struct {
	DeclarationID string
	WorkflowID    string
	RunID         string
	// State is "running" or how the earlier clearance ended (released, refused, ...); empty when
	// it could not be read.
	State string
}

func (e *DuplicateError) Error() string {
	if e.State == "" {
		return fmt.Sprintf("declaration %s was already submitted: clearance %s exists", e.DeclarationID, e.WorkflowID)
	}
	return fmt.Sprintf("declaration %s was already submitted: clearance %s is %s", e.DeclarationID, e.WorkflowID, e.State)
}

// StartOptions returns the options a clearance starts with. A workflow ID is used once: the
// server refuses a second clearance of the same declaration while the first runs and after it
// ended (a corrected declaration is lodged under a new ID).
func StartOptions(d declaration.Declaration) (client.StartWorkflowOptions, error) {
	id, err := workflows.WorkflowID(d.Exporter.Code, d.ID)
	if err != nil {
		return client.StartWorkflowOptions{}, err
	}
	return client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                workflows.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		// Without it the SDK answers a duplicate with the existing run instead of an error, and
		// a resubmission would look like a new clearance.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(append(workflows.DeclarationAttributes(d),
			workflows.StatusKey.ValueSet(string(workflows.StateChecking)),
			workflows.SlaBreachedKey.ValueSet(false))...),
		StaticSummary: Summary(d),
		StaticDetails: Details(d),
		Priority:      StartPriority(d.Exporter.Code, d.IsExpedited()),
	}, nil
}

// Submit starts the clearance of a validated declaration. When one was started before, it
// returns a *DuplicateError saying how that clearance stands: from the workflow's description
// where the caller may read it, else from the clearance's own status query, which answers its
// exporter too when the server verifies callers and refuses exporters descriptions.
func Submit(ctx context.Context, c client.Client, d declaration.Declaration) (client.WorkflowRun, error) {
	opts, err := StartOptions(d)
	if err != nil {
		return nil, err
	}
	run, err := c.ExecuteWorkflow(ctx, opts, workflows.WorkflowName, workflows.Input{Declaration: d})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		dup := &DuplicateError{DeclarationID: d.ID, WorkflowID: opts.ID, RunID: started.RunId}
		dup.State = existingState(ctx, c, opts.ID, dup)
		return nil, dup
	}
	if err != nil {
		return nil, fmt.Errorf("start clearance of %s: %w", d.ID, err)
	}
	return run, nil
}

// StateRunning is the DuplicateError state of a clearance that has not ended.
const StateRunning = "running"

// existingState says how the clearance with workflow ID id stands: "running", or how it ended
// (released, refused, lapsed, withdrawn; or how the workflow closed, when no state says). It
// records the run it read in dup.
func existingState(ctx context.Context, c client.Client, id string, dup *DuplicateError) string {
	if desc, err := c.DescribeWorkflowExecution(ctx, id, ""); err == nil {
		info := desc.GetWorkflowExecutionInfo()
		dup.RunID = info.GetExecution().GetRunId()
		if info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return StateRunning
		}
		return closedState(info)
	}
	// An exporter may not describe workflows under verified callers; it may ask its own
	// clearance's status. A clearance whose first task has not run yet answers no query: it has
	// only just started.
	s, err := StatusOf(ctx, c, id)
	var notReady *serviceerror.WorkflowNotReady
	switch {
	case errors.As(err, &notReady):
		return StateRunning
	case err != nil:
		return "" // unknown: the message says only that it exists
	case !s.State.Final():
		return StateRunning
	}
	return string(s.State)
}

func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}

// closedState reads how a closed clearance ended from its ClearanceStatus search attribute.
func closedState(info *workflowpb.WorkflowExecutionInfo) string {
	if p, ok := info.GetSearchAttributes().GetIndexedFields()[workflows.SAStatus]; ok {
		var s string
		if err := converter.GetDefaultDataConverter().FromPayload(p, &s); err == nil && s != "" {
			return s
		}
	}
	return strings.ToLower(strings.TrimPrefix(info.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_"))
}

// Status queries a clearance's status.
func Status(ctx context.Context, c client.Client, r Ref) (workflows.Status, error) {
	id, err := r.WorkflowID()
	if err != nil {
		return workflows.Status{}, err
	}
	s, err := StatusOf(ctx, c, id)
	if isNotFound(err) {
		if ls, _, ok := legacyStatus(ctx, c, r); ok {
			ls.UpTo(time.Now())
			return ls, nil
		}
	}
	return s, err
}

// StatusOf queries the status of the clearance with workflow ID id.
func StatusOf(ctx context.Context, c client.Client, id string) (workflows.Status, error) {
	var s workflows.Status
	v, err := c.QueryWorkflow(ctx, id, "", workflows.QueryStatus)
	if err != nil {
		return s, fmt.Errorf("query %s: %w", id, err)
	}
	if err := v.Get(&s); err != nil {
		return s, fmt.Errorf("read status of %s: %w", id, err)
	}
	s.UpTo(time.Now())
	return s, nil
}

// update sends an update and waits for its result. A refusal by the workflow's validator comes
// back as a *RefusedError carrying the validator's reason.
// A clearance r names in the legacy form (see Resolve) is asked only when none runs under r's own
// workflow ID.
func update(ctx context.Context, c client.Client, r Ref, name string, arg, result any) error {
	id, err := r.WorkflowID()
	if err != nil {
		return err
	}
	send := func(id string) error {
		h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
			WorkflowID: id, UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted,
		})
		if err == nil {
			err = h.Get(ctx, result)
		}
		return err
	}
	err = send(id)
	if isNotFound(err) {
		if legacy, ok := legacyOf(ctx, c, r); ok {
			id, err = legacy, send(legacy)
		}
	}
	return refusal(name, id, err)
}

// refusal is an update's error as the caller reads it: nil, a *RefusedError with the validator's
// reason, or the call's error.
func refusal(name, id string, err error) error {
	if err == nil {
		return nil
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return &RefusedError{Update: name, WorkflowID: id, Reason: app.Message()}
	}
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return &RefusedError{Update: name, WorkflowID: id, Reason: "it has ended or does not exist"}
	}
	return fmt.Errorf("%s on %s: %w", name, id, err)
}

// AwaitingOfficerQuery lists the running clearances that wait on an officer's decision.
const AwaitingOfficerQuery = "WorkflowType = '" + workflows.WorkflowName + "' AND ExecutionStatus = 'Running' AND " +
	workflows.SAStatus + " = 'awaiting-officer'"

// AnnounceRosterChange tells every running clearance that waits on an officer that the roster
// changed, so that each reads it again: an officer taken off it can no longer decide, one added
// can. Clearances not waiting on an officer read the roster when they next do. It returns how many
// clearances were told.
func AnnounceRosterChange(ctx context.Context, c client.Client, namespace string) (int, error) {
	told := 0
	var next []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: namespace, Query: AwaitingOfficerQuery, NextPageToken: next, PageSize: 1000,
		})
		if err != nil {
			return told, fmt.Errorf("list clearances awaiting an officer: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			err := c.SignalWorkflow(ctx, e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId(), workflows.SignalRosterChanged, nil)
			var nf *serviceerror.NotFound
			switch {
			case errors.As(err, &nf): // it ended meanwhile
			case err != nil:
				return told, fmt.Errorf("tell %s: %w", e.GetExecution().GetWorkflowId(), err)
			default:
				told++
			}
		}
		if next = resp.GetNextPageToken(); len(next) == 0 {
			return told, nil
		}
	}
}

// RefusedError is an update the clearance refused, with the reason.
type RefusedError struct {
	Update     string
	WorkflowID string
	Reason     string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s refused by %s: %s", e.Update, e.WorkflowID, e.Reason)
}

// Decide sends an officer's decision as the update "decide".
func Decide(ctx context.Context, c client.Client, r Ref, d workflows.Decision) (workflows.DecisionRecord, error) {
	var rec workflows.DecisionRecord
	return rec, update(ctx, c, r, workflows.UpdateDecide, d, &rec)
}

// Extend sends a supervisor's extension of the current stage's allowance.
func Extend(ctx context.Context, c client.Client, r Ref, x workflows.Extension) (workflows.ExtensionRecord, error) {
	var rec workflows.ExtensionRecord
	return rec, update(ctx, c, r, workflows.UpdateExtend, x, &rec)
}

// Reroute sends a supervisor's reroute.
func Reroute(ctx context.Context, c client.Client, ref Ref, r workflows.Reroute) (workflows.RerouteRecord, error) {
	var rec workflows.RerouteRecord
	return rec, update(ctx, c, ref, workflows.UpdateReroute, r, &rec)
}

// Supply sends the exporter's documents for a request for information.
func Supply(ctx context.Context, c client.Client, r Ref, s workflows.Supply) (workflows.SupplyRecord, error) {
	var rec workflows.SupplyRecord
	return rec, update(ctx, c, r, workflows.UpdateSupplyDocuments, s, &rec)
}

// Claim takes the stage that awaits a decision for an officer.
func Claim(ctx context.Context, c client.Client, r Ref, req workflows.ClaimRequest) (workflows.WorkRecord, error) {
	var rec workflows.WorkRecord
	return rec, update(ctx, c, r, workflows.UpdateClaim, req, &rec)
}

// Unclaim gives a held stage back to the queue.
func Unclaim(ctx context.Context, c client.Client, r Ref, req workflows.ClaimRequest) (workflows.WorkRecord, error) {
	var rec workflows.WorkRecord
	return rec, update(ctx, c, r, workflows.UpdateUnclaim, req, &rec)
}

// Reassign sends a supervisor's reassignment of the stage.
func Reassign(ctx context.Context, c client.Client, r Ref, req workflows.Reassignment) (workflows.WorkRecord, error) {
	var rec workflows.WorkRecord
	return rec, update(ctx, c, r, workflows.UpdateReassign, req, &rec)
}

// AddNote adds an officer's note to the clearance.
func AddNote(ctx context.Context, c client.Client, r Ref, n workflows.Note) (workflows.WorkRecord, error) {
	var rec workflows.WorkRecord
	return rec, update(ctx, c, r, workflows.UpdateNote, n, &rec)
}

// PlaceHold sends a supervisor's hold, for customs or on behalf of an agency.
func PlaceHold(ctx context.Context, c client.Client, r Ref, h workflows.Hold) (workflows.HoldRecord, error) {
	var rec workflows.HoldRecord
	return rec, update(ctx, c, r, workflows.UpdateHold, h, &rec)
}

// LiftHold sends a supervisor's lifting of a hold.
func LiftHold(ctx context.Context, c client.Client, r Ref, l workflows.Lift) (workflows.HoldRecord, error) {
	var rec workflows.HoldRecord
	return rec, update(ctx, c, r, workflows.UpdateLift, l, &rec)
}

// Amend sends the exporter's amendment of its declaration. The record says whether it applied
// at once or awaits an officer's consent.
func Amend(ctx context.Context, c client.Client, r Ref, a workflows.Amendment) (workflows.AmendmentRecord, error) {
	var rec workflows.AmendmentRecord
	return rec, update(ctx, c, r, workflows.UpdateAmend, a, &rec)
}

// DecideAmendment sends an officer's consent to an amendment, or its refusal.
func DecideAmendment(ctx context.Context, c client.Client, r Ref, d workflows.AmendmentDecision) (workflows.AmendmentRecord, error) {
	var rec workflows.AmendmentRecord
	return rec, update(ctx, c, r, workflows.UpdateDecideAmendment, d, &rec)
}

// Withdraw withdraws a declaration.
func Withdraw(ctx context.Context, c client.Client, r Ref, reason string) error {
	var st workflows.State
	return update(ctx, c, r, workflows.UpdateWithdraw, workflows.Withdrawal{Reason: reason}, &st)
}

// Wait blocks until the clearance ends and returns its result. It follows the workflow's
// history; a caller who may not read histories (an exporter, when the server verifies callers)
// asks the clearance's result query instead, every PollInterval, and the clearance answers its
// own exporter.
func Wait(ctx context.Context, c client.Client, ref Ref) (workflows.Result, error) {
	id, err := ref.WorkflowID()
	if err != nil {
		return workflows.Result{}, err
	}
	r, err := waitFor(ctx, c, id)
	if isNotFound(err) {
		// A clearance started before workflow IDs named the exporter, if it is ref's.
		if legacy, ok := legacyOf(ctx, c, ref); ok {
			return waitFor(ctx, c, legacy)
		}
	}
	return r, err
}

// waitFor waits for the clearance with workflow ID id to end, as Wait describes.
func waitFor(ctx context.Context, c client.Client, id string) (workflows.Result, error) {
	var r workflows.Result
	err := c.GetWorkflow(ctx, id, "").Get(ctx, &r)
	var denied *serviceerror.PermissionDenied
	if !errors.As(err, &denied) {
		if err != nil {
			return r, fmt.Errorf("wait for %s: %w", id, err)
		}
		return r, nil
	}
	for {
		v, err := c.QueryWorkflow(ctx, id, "", workflows.QueryResult)
		if err == nil {
			if err := v.Get(&r); err != nil {
				return r, fmt.Errorf("read the result of %s: %w", id, err)
			}
			return r, nil
		}
		var qf *serviceerror.QueryFailed
		if !errors.As(err, &qf) || !strings.Contains(qf.Error(), "has not ended") {
			return r, fmt.Errorf("wait for %s: %w", id, err)
		}
		select {
		case <-ctx.Done():
			return r, fmt.Errorf("wait for %s: %w", id, ctx.Err())
		case <-time.After(PollInterval):
		}
	}
}

// PollInterval is how often Wait asks an exporter's clearance whether it has ended.
var PollInterval = 2 * time.Second

// Summary is the one-line static summary the Web UI shows for a clearance.
func Summary(d declaration.Declaration) string {
	exp := ""
	if d.IsExpedited() {
		exp = " [expedited]"
	}
	return fmt.Sprintf("%s: %s to %s by %s, exporter %s%s", d.ID, strings.Join(d.CategoryList(), ", "), d.Destination,
		d.Transport, d.Exporter.Code, exp)
}

// Details is the static details the Web UI shows: the parties and the goods lines, in Markdown.
func Details(d declaration.Declaration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**Exporter** %s (%s)  \n**Manufacturer** %s  \n**Consignee** %s, %s  \n**Destination** %s by %s\n\n",
		d.Exporter.Name, d.Exporter.Code, d.Manufacturer.Name, d.Consignee.Name, d.Consignee.Country, d.Destination, d.Transport)
	b.WriteString("| line | HS code | goods | quantity | value | biological |\n|---|---|---|---|---|---|\n")
	for _, l := range d.Lines {
		bio := "no"
		if l.Biological {
			bio = "class " + string(l.RiskClass)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d %s | %s | %s |\n", l.ID, l.HSCode, l.Description, l.Quantity, l.Unit,
			declaration.FormatMoney(l.Value, l.Currency), bio)
	}
	if d.IsExpedited() {
		fmt.Fprintf(&b, "\n**Expedited**: %s\n", d.Expedited.Justification)
	}
	return b.String()
}

// UILink returns the Web UI address of a clearance.
func UILink(uiBase, namespace, workflowID string) string {
	return strings.TrimRight(uiBase, "/") + "/namespaces/" + url.PathEscape(namespace) + "/workflows/" + url.PathEscape(workflowID)
}

// Appeal lodges the exporter's appeal against the refusal of r's declaration and returns the
// appeal's workflow ID. One appeal runs at a time: a second while the first runs is refused,
// naming it. A refusal is heard once: an appeal against one an earlier appeal decided is not
// admitted, and says so; one that was not admitted may be lodged again.
func Appeal(ctx context.Context, c client.Client, r Ref, grounds string) (string, error) {
	in := appeal.Input{Exporter: r.Exporter, DeclarationID: r.Declaration, Grounds: grounds}
	if err := in.Validate(); err != nil {
		return "", err
	}
	id, err := appeal.WorkflowID(r.Exporter, r.Declaration)
	if err != nil {
		return "", err
	}
	_, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: workflows.TaskQueue,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.DeclarationIDKey.ValueSet(r.Declaration),
			workflows.ExporterCodeKey.ValueSet(r.Exporter)),
		StaticSummary: "Appeal against the refusal of " + r.Declaration,
	}, appeal.WorkflowName, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return id, fmt.Errorf("the refusal of %s is under appeal already (%s): one appeal runs at a time", r, id)
	}
	if err != nil {
		return "", fmt.Errorf("lodge the appeal of %s: %w", r, err)
	}
	return id, nil
}

// AppealStatus asks the appeal against the refusal of r's declaration where it stands.
func AppealStatus(ctx context.Context, c client.Client, r Ref) (appeal.Status, error) {
	var s appeal.Status
	id, err := appeal.WorkflowID(r.Exporter, r.Declaration)
	if err != nil {
		return s, err
	}
	v, err := c.QueryWorkflow(ctx, id, "", appeal.QueryStatus)
	if err != nil {
		return s, fmt.Errorf("status of the appeal %s: %w", id, err)
	}
	return s, v.Get(&s)
}

// AwaitAppeal asks the appeal's status every PollInterval until it has ended, and returns its
// result; an exporter, who may not read histories, can.
func AwaitAppeal(ctx context.Context, c client.Client, r Ref) (appeal.Result, error) {
	for {
		s, err := AppealStatus(ctx, c, r)
		if err != nil {
			return appeal.Result{}, err
		}
		if s.Result != nil {
			return *s.Result, nil
		}
		select {
		case <-ctx.Done():
			return appeal.Result{}, ctx.Err()
		case <-time.After(PollInterval):
		}
	}
}

// DecideAppeal sends a supervisor's decision on the appeal against the refusal of r's declaration.
func DecideAppeal(ctx context.Context, c client.Client, r Ref, d appeal.Decision) (appeal.DecisionRecord, error) {
	var rec appeal.DecisionRecord
	id, err := appeal.WorkflowID(r.Exporter, r.Declaration)
	if err != nil {
		return rec, err
	}
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: appeal.UpdateDecide,
		Args: []any{d}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = h.Get(ctx, &rec)
	}
	return rec, refusal(appeal.UpdateDecide, id, err)
}
