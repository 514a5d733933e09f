package auth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/medsupply/customs/appeal"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/workflows"
)

// An exporter's start carries its declaration (or its appeal) and nothing else. What the
// clearance, its queue and the officers' screens show is the engine's to set: an exporter may not
// choose search attributes (an expedited queue, another exporter's declaration), a memo, the
// summary officers read, how the server treats an earlier run of the ID (terminating its own
// clearance that awaits an officer), timeouts, retries, a schedule, a delay, callbacks, links, a
// version or a priority. exporterStart refuses what an exporter may not choose, naming the field,
// and sets the rest from what the server verified: the token's exporter, the workflow ID and,
// when the input is plain JSON, the declaration itself. A clearance's task priority is the
// engine's (clearance.StartPriority): the exporter's client sends the same, and a start that asks
// for another is refused.

// declarationKeys are the search attributes a clearance's start sets, from its declaration.
var declarationKeys = []string{workflows.SADeclarationID, workflows.SAExporterCode, workflows.SADestinationCountry,
	workflows.SAProductCategories, workflows.SAExpedited, workflows.SAStatus, workflows.SASlaBreached}

// exporterStart checks and completes the start of a clearance or an appeal by exporter p. The
// authorizer has checked the workflow type, task queue, ID prefix and ExporterCode.
func exporterStart(r *workflowservice.StartWorkflowExecutionRequest, p workflows.Principal) error {
	if err := startOptions(r); err != nil {
		return err
	}
	if r.GetWorkflowType().GetName() == appeal.WorkflowName {
		return appealStart(r, p)
	}
	return clearanceStart(r, p)
}

// startOptions refuses the start options an exporter may not choose.
func startOptions(r *workflowservice.StartWorkflowExecutionRequest) error {
	switch {
	case len(r.GetMemo().GetFields()) > 0:
		return refuseField("memo", "the clearance writes its own memo")
	case r.GetWorkflowIdConflictPolicy() != enumspb.WORKFLOW_ID_CONFLICT_POLICY_UNSPECIFIED &&
		r.GetWorkflowIdConflictPolicy() != enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL:
		return refuseField("workflow_id_conflict_policy", "a running clearance or appeal is never terminated or joined by a new start: only FAIL is accepted")
	case r.GetOnConflictOptions() != nil:
		return refuseField("on_conflict_options", "a running clearance or appeal is never joined by a new start")
	case r.GetWorkflowExecutionTimeout().AsDuration() != 0, r.GetWorkflowRunTimeout().AsDuration() != 0,
		r.GetWorkflowTaskTimeout().AsDuration() != 0:
		return refuseField("timeouts", "a clearance runs to its own end; the server's defaults apply")
	case r.GetCronSchedule() != "":
		return refuseField("cron_schedule", "a declaration is lodged once")
	case r.GetRetryPolicy() != nil:
		return refuseField("retry_policy", "a clearance is not started again by the server")
	case r.GetWorkflowStartDelay().AsDuration() != 0:
		return refuseField("workflow_start_delay", "a declaration is lodged when it is sent")
	case len(r.GetCompletionCallbacks()) > 0:
		return refuseField("completion_callbacks", "the exporter is notified by the clearance")
	case len(r.GetLinks()) > 0:
		return refuseField("links", "a start by an exporter links to nothing")
	case r.GetVersioningOverride() != nil:
		return refuseField("versioning_override", "the engine chooses the worker version")
	case r.GetPriority().GetFairnessWeight() != 0:
		return refuseField("priority", "the engine sets a clearance's priority from its policy: a start sets no fairness weight")
	case r.GetRequestEagerExecution():
		return refuseField("request_eager_execution", "an exporter runs no worker")
	}
	return nil
}

// clearanceStart checks a clearance's start and sets its search attributes and summary.
func clearanceStart(r *workflowservice.StartWorkflowExecutionRequest, p workflows.Principal) error {
	switch r.GetWorkflowIdReusePolicy() {
	case enumspb.WORKFLOW_ID_REUSE_POLICY_UNSPECIFIED, enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE:
		r.WorkflowIdReusePolicy = enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
	default:
		return refuseField("workflow_id_reuse_policy", "a declaration is cleared once: only REJECT_DUPLICATE is accepted")
	}
	declID := strings.TrimPrefix(r.GetWorkflowId(), workflows.WorkflowIDPrefix+p.Exporter+"-")
	if _, err := workflows.WorkflowID(p.Exporter, declID); err != nil {
		return refuseField("workflow_id", err.Error())
	}
	sa, err := startAttributes(r.GetSearchAttributes(), declarationKeys)
	if err != nil {
		return err
	}
	var in struct {
		Declaration json.RawMessage `json:"declaration"`
	}
	var d *declaration.Declaration
	if raw, ok, err := plainInput(r.GetInput(), "declaration"); err != nil {
		return err
	} else if ok {
		if err := json.Unmarshal(raw, &in); err != nil {
			return refuseField("input", "not a clearance's input: "+err.Error())
		}
		var decl declaration.Declaration
		if err := json.Unmarshal(in.Declaration, &decl); err == nil {
			if decl.ID != declID || decl.Exporter.Code != p.Exporter {
				return refuseField("input.declaration", fmt.Sprintf("declaration %q of exporter %q is not the one workflow ID %q clears",
					clip(decl.ID), clip(decl.Exporter.Code), r.GetWorkflowId()))
			}
			d = &decl
		}
	}
	set := map[string]any{workflows.SAExporterCode: p.Exporter, workflows.SADeclarationID: declID,
		workflows.SAStatus: string(workflows.StateChecking), workflows.SASlaBreached: false}
	if d != nil {
		set[workflows.SADestinationCountry] = d.Destination
		set[workflows.SAProductCategories] = d.CategoryList()
		set[workflows.SAExpedited] = d.IsExpedited()
	} else {
		// An input the frontend cannot read (encrypted): the declaration's own attributes are
		// left to the clearance, which sets them from the declaration it validated the first
		// time it publishes, because the start lacks them.
		delete(sa.IndexedFields, workflows.SADestinationCountry)
		delete(sa.IndexedFields, workflows.SAProductCategories)
		delete(sa.IndexedFields, workflows.SAExpedited)
	}
	if err := putAttributes(sa, set); err != nil {
		return err
	}
	r.SearchAttributes = sa
	if err := startPriority(r, p, d); err != nil {
		return err
	}
	// The summary and details officers read in the Web UI are made from the declaration, never
	// taken from the exporter; an input the frontend cannot read (encrypted) gets none.
	r.UserMetadata = nil
	if d != nil {
		md, err := metadata(clearance.Summary(*d), clearance.Details(*d))
		if err != nil {
			return err
		}
		r.UserMetadata = md
	}
	return nil
}

// appealStart checks an appeal's start: its ID is the one of the declaration it names, and its
// search attributes and summary are set from it.
func appealStart(r *workflowservice.StartWorkflowExecutionRequest, p workflows.Principal) error {
	switch r.GetWorkflowIdReusePolicy() {
	case enumspb.WORKFLOW_ID_REUSE_POLICY_UNSPECIFIED, enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE:
		// A refusal after an earlier appeal's reopening may be appealed again (the appeal
		// decides whether the refusal was heard already).
		r.WorkflowIdReusePolicy = enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
	default:
		return refuseField("workflow_id_reuse_policy", "an appeal's ID is reused for the declaration's next refusal: only ALLOW_DUPLICATE is accepted")
	}
	if r.GetPriority().GetPriorityKey() != 0 || r.GetPriority().GetFairnessKey() != "" {
		return refuseField("priority", "an appeal runs at the server's default priority")
	}
	declID := strings.TrimPrefix(r.GetWorkflowId(), appeal.IDPrefix+p.Exporter+"-")
	if want, err := appeal.WorkflowID(p.Exporter, declID); err != nil || want != r.GetWorkflowId() {
		return refuseField("workflow_id", fmt.Sprintf("%q is not the ID of an appeal of exporter %s: appeals start %s<declaration ID>",
			r.GetWorkflowId(), p.Exporter, appeal.IDPrefix+p.Exporter+"-"))
	}
	sa, err := startAttributes(r.GetSearchAttributes(), []string{workflows.SADeclarationID, workflows.SAExporterCode})
	if err != nil {
		return err
	}
	if raw, ok, err := plainInput(r.GetInput(), "exporter", "declarationId", "grounds"); err != nil {
		return err
	} else if ok {
		var in appeal.Input
		if err := json.Unmarshal(raw, &in); err != nil {
			return refuseField("input", "not an appeal's input: "+err.Error())
		}
		if in.Exporter != p.Exporter || in.DeclarationID != declID {
			return refuseField("input", fmt.Sprintf("the appeal of exporter %q against %q is not the one workflow ID %q hears",
				clip(in.Exporter), clip(in.DeclarationID), r.GetWorkflowId()))
		}
	}
	if err := putAttributes(sa, map[string]any{workflows.SAExporterCode: p.Exporter, workflows.SADeclarationID: declID}); err != nil {
		return err
	}
	r.SearchAttributes = sa
	md, err := metadata("Appeal against the refusal of "+declID, "")
	if err != nil {
		return err
	}
	r.UserMetadata = md
	return nil
}

// startPriority sets the task priority of a clearance's start by exporter p to the engine's
// (clearance.StartPriority): the declaration d says whether it is expedited; a start the frontend
// cannot read (d nil, encrypted) starts at normal priority, and its clearance's activities take
// their priority from its lane selection. A start that asks for a priority the engine would not
// give it is refused: an expedited key for a declaration that is not, or another exporter's
// fairness key.
func startPriority(r *workflowservice.StartWorkflowExecutionRequest, p workflows.Principal, d *declaration.Declaration) error {
	want := clearance.StartPriority(p.Exporter, d != nil && d.IsExpedited())
	if asked := r.GetPriority(); asked.GetPriorityKey() != 0 || asked.GetFairnessKey() != "" {
		// The client computes the priority from the declaration. Where the frontend cannot read
		// it, the client's urgent key is taken as well as the normal one, and the normal one set.
		urgent := clearance.StartPriority(p.Exporter, true)
		ok := asked.GetFairnessKey() == want.FairnessKey && (asked.GetPriorityKey() == int32(want.PriorityKey) ||
			d == nil && asked.GetPriorityKey() == int32(urgent.PriorityKey))
		if !ok {
			return refuseField("priority", fmt.Sprintf("key %d, fairness key %q: the engine sets a clearance's priority from its policy "+
				"(key %d, fairness key %q for this declaration)", asked.GetPriorityKey(), clip(asked.GetFairnessKey()), want.PriorityKey, want.FairnessKey))
		}
	}
	r.Priority = &commonpb.Priority{PriorityKey: int32(want.PriorityKey), FairnessKey: want.FairnessKey}
	return nil
}

// startAttributes refuses search attributes other than allowed, and returns a copy to complete.
func startAttributes(sa *commonpb.SearchAttributes, allowed []string) (*commonpb.SearchAttributes, error) {
	out := &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{}}
	var unknown []string
	for k, v := range sa.GetIndexedFields() {
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		if !ok {
			unknown = append(unknown, k)
			continue
		}
		out.IndexedFields[k] = v
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, refuseField("search_attributes", fmt.Sprintf("%s may not be set by an exporter; the clearance sets them",
			strings.Join(unknown, ", ")))
	}
	return out, nil
}

// putAttributes sets each search attribute of set in sa, whatever the start said.
func putAttributes(sa *commonpb.SearchAttributes, set map[string]any) error {
	for k, v := range set {
		pl, err := converter.GetDefaultDataConverter().ToPayload(v)
		if err != nil {
			return fmt.Errorf("search attribute %s: %w", k, err)
		}
		sa.IndexedFields[k] = pl
	}
	return nil
}

// plainInput returns the start's one input payload when it is plain JSON (not encrypted), having
// refused top-level fields other than fields; ok is false for an input the frontend cannot read.
func plainInput(in *commonpb.Payloads, fields ...string) (raw []byte, ok bool, err error) {
	ps := in.GetPayloads()
	if len(ps) != 1 {
		return nil, false, refuseField("input", fmt.Sprintf("%d payloads; a start carries one", len(ps)))
	}
	if string(ps[0].GetMetadata()[converter.MetadataEncoding]) != converter.MetadataEncodingJSON {
		return nil, false, nil
	}
	var top map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(ps[0].GetData()))
	if err := dec.Decode(&top); err != nil {
		return nil, false, refuseField("input", "not a JSON object: "+err.Error())
	}
	for k := range top {
		known := false
		for _, f := range fields {
			known = known || f == k
		}
		if !known {
			return nil, false, refuseField("input."+clip(k), "an exporter's start carries "+strings.Join(fields, ", ")+
				" and nothing else; a clearance's record is carried only by the clearance itself")
		}
	}
	return ps[0].GetData(), true, nil
}

func metadata(summary, details string) (*sdkpb.UserMetadata, error) {
	md := &sdkpb.UserMetadata{}
	var err error
	if md.Summary, err = converter.GetDefaultDataConverter().ToPayload(summary); err != nil {
		return nil, err
	}
	if details != "" {
		if md.Details, err = converter.GetDefaultDataConverter().ToPayload(details); err != nil {
			return nil, err
		}
	}
	return md, nil
}

// fieldError is a start refused for one of its fields.
type fieldError struct{ field, why string }

func (e fieldError) Error() string { return e.field + ": " + e.why }

func refuseField(field, why string) error { return fieldError{field, why} }

// clip cuts a caller's text to what a refusal quotes.
func clip(s string) string { return declaration.Clip(s, 80) }
