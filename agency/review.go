package agency

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/declaration"
)

// Names of the review's update and query.
const (
	// UpdateDecide carries an agency officer's decision on what the checks found.
	UpdateDecide = "decide-permit"
	// QueryStatus returns the review's Status.
	QueryStatus = "status"
)

// Outcomes of an officer's decision.
const (
	OutcomeGrant              = "grant"
	OutcomeRefuse             = "refuse"
	OutcomeRequestInformation = "request-information"
)

// Decision is the payload of the update "decide-permit".
type Decision struct {
	Officer string `json:"officer"`
	Outcome string `json:"outcome"`
	// Reason is required: why the officer grants over the findings, refuses, or what is needed.
	// The exporter is told it.
	Reason string `json:"reason"`
	// Requested are the documents needed, with request-information.
	Requested []string `json:"requested,omitempty"`
}

// DecisionRecord is an officer's decision as recorded.
type DecisionRecord struct {
	Decision
	At time.Time `json:"at"`
	// Verified says the officer is the request's verified caller.
	Verified bool `json:"verified,omitempty"`
}

// Phase is the step of a review. It alone says whether the review takes a decision now: the
// update's validator asks it, and only the workflow's run and the handler of an accepted
// decision move it.
type Phase string

// Phases of a review, in order.
const (
	// PhaseChecking: the agency's automated checks run.
	PhaseChecking Phase = "checking"
	// PhaseAwaitingOfficer: the checks found something; an agency officer's decision is awaited.
	PhaseAwaitingOfficer Phase = "awaiting-officer"
	// PhaseDecided: an officer's decision has been accepted and the review is ending with it.
	PhaseDecided Phase = "decided"
	// PhaseEnded: the review has ended, with a disposition or cancelled; it accepts nothing.
	PhaseEnded Phase = "ended"
)

var (
	// phaseAccepts lists, for each phase, the requests it can carry out.
	phaseAccepts = map[Phase][]string{PhaseAwaitingOfficer: {UpdateDecide}}
	// phaseMeaning says what the review is doing in each phase, for refusals.
	phaseMeaning = map[Phase]string{
		PhaseChecking:        "the agency's automated checks are running",
		PhaseAwaitingOfficer: "an officer's decision is awaited",
		PhaseDecided:         "an officer's decision has been taken and the review is ending with it",
		PhaseEnded:           "the review has ended",
	}
)

// Accepts reports whether the phase can carry out the named update.
func (p Phase) Accepts(request string) bool { return slices.Contains(phaseAccepts[p], request) }

// Values of the PermitStatus search attribute besides the running phases (checking,
// awaiting-officer, decided) and the dispositions (granted, refused, information-needed).
const StatusCancelled = "cancelled"

// Status is the answer to the review's status query.
type Status struct {
	Agency        string   `json:"agency"`
	RequestID     string   `json:"requestId"`
	ClearanceID   string   `json:"clearanceId"`
	DeclarationID string   `json:"declarationId"`
	Exporter      string   `json:"exporter"`
	Lines         []string `json:"lines"`
	// Reason is why customs asks.
	Reason  string    `json:"reason"`
	Phase   Phase     `json:"phase"`
	Started time.Time `json:"started"`
	// Accepts lists the requests the review takes now.
	Accepts []string `json:"accepts"`
	// Findings are the checks' findings, once they ran; Officers who may decide them.
	Findings []Finding `json:"findings,omitempty"`
	Officers []string  `json:"officers,omitempty"`
	// Decision is the officer's, once taken.
	Decision *DecisionRecord `json:"decision,omitempty"`
	// Result is the disposition, once the review has one.
	Result *PermitResult `json:"result,omitempty"`
	// Cancelled is when customs withdrew the request, if it did.
	Cancelled time.Time `json:"cancelled,omitzero"`
}

// AgencyReview reviews customs' permit request in the agency's namespace and returns the
// agency's disposition. It runs the agency's automated checks (an activity, retried while a
// registry is away); when they find nothing it grants the permit by the agency's rules: its
// number derives from the request (PermitNumber), so a request granted twice gets one number,
// and it is valid for the agency's validity, no longer than the certificates it rests on. When
// they find something it waits for one of the agency's officers to grant, refuse or ask for more
// information (the update "decide-permit"). Customs' cancellation (a withdrawn clearance) ends it
// cancelled, wherever it is.
//
// A review is short-lived and its history bounded: a few events for the start, one activity, at
// most three search attribute upserts and one accepted decision (a refused update leaves no
// event), under 40 events in all, so it never continues as new.
func AgencyReview(ctx workflow.Context, req PermitRequest) (PermitResult, error) {
	r := &review{req: req, status: Status{Agency: req.Agency, RequestID: req.RequestID, ClearanceID: req.ClearanceID,
		DeclarationID: req.Declaration.ID, Exporter: req.Declaration.Exporter.Code, Lines: req.Lines, Reason: req.Reason,
		Phase: PhaseChecking, Started: workflow.Now(ctx)}}
	r.status.Accepts = []string{}
	r.shown, _ = workflow.GetTypedSearchAttributes(ctx).GetKeyword(StatusKey)
	if err := r.setup(ctx); err != nil {
		return PermitResult{}, err
	}
	if err := req.Validate(); err != nil {
		return PermitResult{}, temporal.NewNonRetryableApplicationError("permit request: "+err.Error(), ErrInvalidRequest, nil)
	}
	if err := r.enter(ctx, PhaseChecking); err != nil {
		return PermitResult{}, err
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute,
			NonRetryableErrorTypes: []string{ErrInvalidRequest}},
		Summary: fmt.Sprintf("Run %s's checks on lines %s", req.Agency, strings.Join(req.Lines, ", ")),
	})
	err := workflow.ExecuteActivity(actx, ActivityChecks, CheckInput{Request: req, On: workflow.Now(ctx)}).Get(ctx, &r.check)
	if temporal.IsCanceledError(err) {
		return r.cancelled(ctx)
	}
	if err != nil {
		return PermitResult{}, fmt.Errorf("run %s's checks: %w", req.Agency, err)
	}
	r.status.Findings, r.status.Officers = r.check.Findings, r.check.Officers
	if len(r.check.Findings) == 0 {
		return r.end(ctx, r.grant(workflow.Now(ctx), "", ""))
	}
	if err := r.enter(ctx, PhaseAwaitingOfficer); err != nil {
		return PermitResult{}, err
	}
	workflow.GetLogger(ctx).Info("permit request awaits an officer", "agency", req.Agency, "declarationID", req.Declaration.ID,
		"request", req.RequestID, "findings", len(r.check.Findings))
	if err := workflow.Await(ctx, func() bool { return r.status.Decision != nil }); err != nil {
		if temporal.IsCanceledError(err) {
			return r.cancelled(ctx)
		}
		return PermitResult{}, err
	}
	return r.end(ctx, r.decided(*r.status.Decision))
}

// review is the review workflow's state.
type review struct {
	req    PermitRequest
	status Status
	check  CheckResult
	// shown is the PermitStatus last published; identity whether the request's attributes are.
	shown    string
	identity bool
}

func (r *review) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandlerWithOptions(ctx, QueryStatus, func() (Status, error) { return r.status, nil },
		workflow.QueryHandlerOptions{Description: "The permit request: the lines customs asks about and why, what the " +
			"agency's checks found, who may decide, the officer's decision and the disposition."},
	); err != nil {
		return fmt.Errorf("register query %s: %w", QueryStatus, err)
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateDecide,
		func(ctx workflow.Context, raw json.RawMessage) (DecisionRecord, error) {
			caller, _ := callerOf(ctx) // the validator refused an unreadable one
			var d Decision
			_ = json.Unmarshal(raw, &d) // validated before it was accepted
			if caller != nil && d.Officer == "" {
				d.Officer = caller.Subject
			}
			rec := DecisionRecord{Decision: d, At: workflow.Now(ctx), Verified: caller != nil}
			r.status.Decision = &rec
			r.status.Phase = PhaseDecided
			r.status.Accepts = []string{}
			workflow.GetLogger(ctx).Info("permit request decided", "agency", r.req.Agency, "declarationID", r.status.DeclarationID,
				"officer", d.Officer, "outcome", d.Outcome)
			return rec, nil
		},
		workflow.UpdateHandlerOptions{
			Validator: func(ctx workflow.Context, raw json.RawMessage) error {
				if ctx.Err() != nil {
					// Customs withdrew the request: the review ends cancelled, whatever it awaited.
					return refusal(fmt.Errorf("the review is withdrawn: customs withdrew its request, and the review takes no decision"))
				}
				caller, err := callerOf(ctx)
				if err != nil {
					return refusal(err)
				}
				return refusal(r.validate(raw, caller))
			},
			Description: `{"officer":"nmpa-gao","outcome":"grant","reason":"..."} An officer of the agency decides what its ` +
				`checks found: "grant" issues the permit, "refuse" refuses it (customs refuses the clearance, naming the agency), ` +
				`"request-information" asks the exporter for the documents in "requested". A reason is always required; the ` +
				`exporter is told it. Only an officer on this agency's roster with the permit-officer role decides, and only as themself.`,
		}); err != nil {
		return fmt.Errorf("register update %s: %w", UpdateDecide, err)
	}
	return nil
}

// ErrTypeRefused is the failure type of a refused update: the validator's reason.
const ErrTypeRefused = "RequestRefused"

func refusal(err error) error {
	if err == nil {
		return nil
	}
	return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeRefused, nil)
}

// validate is the validator of the update "decide-permit": it only reads the review's state.
func (r *review) validate(raw json.RawMessage, caller *Principal) error {
	if len(raw) > MaxPayloadBytes {
		return fmt.Errorf("permit decision: %d bytes is larger than the %d a request may carry", len(raw), MaxPayloadBytes)
	}
	var d Decision
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return fmt.Errorf("malformed permit decision: %s", clip(strings.TrimPrefix(err.Error(), "json: ")))
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("malformed permit decision: data after the JSON object")
	}
	if caller != nil && caller.Agency != r.req.Agency {
		return fmt.Errorf("caller: %s", foreignCaller(*caller, r.req.Agency))
	}
	if caller != nil && d.Officer == "" {
		d.Officer = caller.Subject
	}
	if caller != nil && d.Officer != caller.Subject {
		return fmt.Errorf("officer: %q is not the caller: you are signed in as %q, and an officer decides only as themself",
			clip(d.Officer), clip(caller.Subject))
	}
	if p := r.status.Phase; !p.Accepts(UpdateDecide) || r.status.Decision != nil {
		return fmt.Errorf("the review is not awaiting an officer's decision (it is %s: %s)", p, phaseMeaning[p])
	}
	if d.Officer == "" {
		return fmt.Errorf("officer: missing")
	}
	if !slices.Contains(r.check.Officers, d.Officer) {
		return fmt.Errorf("officer: %q is not a %s on %s's roster: an officer decides only in their own agency",
			clip(d.Officer), RolePermitOfficer, r.req.Agency)
	}
	switch d.Outcome {
	case OutcomeGrant, OutcomeRefuse, OutcomeRequestInformation:
	default:
		return fmt.Errorf("outcome: %q is not %s, %s or %s", clip(d.Outcome), OutcomeGrant, OutcomeRefuse, OutcomeRequestInformation)
	}
	if strings.TrimSpace(d.Reason) == "" {
		return fmt.Errorf("reason: required to %s; the exporter is told it", d.Outcome)
	}
	if why := declaration.TextProblem(d.Reason, MaxReasonBytes, true); why != "" {
		return fmt.Errorf("reason: %s", why)
	}
	switch {
	case d.Outcome == OutcomeRequestInformation && len(d.Requested) == 0:
		return fmt.Errorf("requested: name the documents the exporter is to supply")
	case d.Outcome != OutcomeRequestInformation && len(d.Requested) > 0:
		return fmt.Errorf("requested: only a request for information names documents, not a %s", d.Outcome)
	case len(d.Requested) > MaxRequested:
		return fmt.Errorf("requested: %d documents are more than the %d a request may name", len(d.Requested), MaxRequested)
	}
	for i, doc := range d.Requested {
		if strings.TrimSpace(doc) == "" {
			return fmt.Errorf("requested[%d]: blank", i)
		}
		if why := declaration.TextProblem(doc, MaxRequestedBytes, false); why != "" {
			return fmt.Errorf("requested[%d]: %s", i, why)
		}
	}
	return nil
}

// foreignCaller says why a verified caller who does not work for agency (the token's agency
// claim names another, or none) may not decide its review.
func foreignCaller(caller Principal, agency string) string {
	works := "works for no agency"
	if caller.Agency != "" {
		works = "works for " + clip(caller.Agency)
	}
	return fmt.Sprintf("%q %s, and this review is %s's: an agency officer decides only in their own agency",
		clip(caller.Subject), works, agency)
}

// grant is the grant of the permit on the request at t, by officer ("" by the agency's rules).
func (r *review) grant(t time.Time, officer, reason string) PermitResult {
	until := t.Add(r.check.Validity)
	if v := r.check.ValidUntil; !v.IsZero() && v.Before(until) {
		until = v
	}
	return PermitResult{Agency: r.req.Agency, RequestID: r.req.RequestID, Disposition: Granted,
		Permit: PermitNumber(r.req.Agency, r.req.RequestID, t), ValidUntil: until, Officer: officer, Reason: reason, Decided: t,
		Findings: r.check.Findings}
}

// decided is the disposition of the officer's decision d.
func (r *review) decided(d DecisionRecord) PermitResult {
	switch d.Outcome {
	case OutcomeGrant:
		return r.grant(d.At, d.Officer, d.Reason)
	case OutcomeRefuse:
		return PermitResult{Agency: r.req.Agency, RequestID: r.req.RequestID, Disposition: Refused, Reason: d.Reason,
			Officer: d.Officer, Decided: d.At, Findings: r.check.Findings}
	}
	return PermitResult{Agency: r.req.Agency, RequestID: r.req.RequestID, Disposition: InformationNeeded, Reason: d.Reason,
		Requested: d.Requested, Officer: d.Officer, Decided: d.At, Findings: r.check.Findings}
}

// enter moves the review to phase p and tells the agency's officers where it stands.
func (r *review) enter(ctx workflow.Context, p Phase) error {
	r.status.Phase = p
	r.status.Accepts = append([]string{}, phaseAccepts[p]...)
	workflow.SetCurrentDetails(ctx, r.details())
	return r.publish(ctx, string(p), "")
}

// end records the disposition res, tells the Web UI, and returns it once every handler is done.
func (r *review) end(ctx workflow.Context, res PermitResult) (PermitResult, error) {
	r.status.Phase = PhaseEnded
	r.status.Accepts = []string{}
	r.status.Result = &res
	workflow.SetCurrentDetails(ctx, r.details())
	if err := r.publish(ctx, string(res.Disposition), res.Officer); err != nil {
		return PermitResult{}, err
	}
	workflow.GetLogger(ctx).Info("permit request disposed of", "agency", res.Agency, "declarationID", r.status.DeclarationID,
		"request", res.RequestID, "disposition", res.Disposition, "permit", res.Permit, "officer", res.Officer)
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return PermitResult{}, err
	}
	return res, nil
}

// cancelled ends the review cancelled: customs withdrew the request.
func (r *review) cancelled(ctx workflow.Context) (PermitResult, error) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	r.status.Phase = PhaseEnded
	r.status.Accepts = []string{}
	r.status.Cancelled = workflow.Now(dctx)
	workflow.SetCurrentDetails(dctx, r.details())
	if err := r.publish(dctx, StatusCancelled, ""); err != nil {
		return PermitResult{}, err
	}
	workflow.GetLogger(dctx).Info("permit request withdrawn by customs", "agency", r.req.Agency,
		"declarationID", r.status.DeclarationID, "request", r.req.RequestID)
	if err := workflow.Await(dctx, func() bool { return workflow.AllHandlersFinished(dctx) }); err != nil {
		return PermitResult{}, err
	}
	return PermitResult{}, temporal.NewCanceledError("customs withdrew the permit request " + r.req.RequestID)
}

// publish sets the PermitStatus search attribute to status, the deciding officer when there is
// one, and the request's attributes when the review was started without them.
func (r *review) publish(ctx workflow.Context, status, officer string) error {
	var u []temporal.SearchAttributeUpdate
	if !r.identity {
		if _, ok := workflow.GetTypedSearchAttributes(ctx).GetKeyword(ClearanceIDKey); !ok {
			u = append(u, RequestAttributes(r.req)...)
		}
		r.identity = true
	}
	if status != r.shown {
		u = append(u, StatusKey.ValueSet(status))
		r.shown = status
	}
	if officer != "" {
		u = append(u, OfficerKey.ValueSet(officer))
	}
	if len(u) == 0 {
		return nil
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, u...); err != nil {
		return fmt.Errorf("upsert search attributes: %w", err)
	}
	return nil
}

// details is the review's current details in the Web UI: what is asked, what the checks found
// and, while it waits, who decides and how.
func (r *review) details() string {
	s := r.status
	var b strings.Builder
	fmt.Fprintf(&b, "**%s** permit request %s for clearance %s: declaration %s of exporter %s, lines %s. Customs asks: %s\n\n",
		s.Agency, clip(s.RequestID), clip(s.ClearanceID), s.DeclarationID, s.Exporter, strings.Join(s.Lines, ", "),
		declaration.Printable(clip(s.Reason)))
	switch s.Phase {
	case PhaseChecking:
		b.WriteString("The agency's automated checks are running.")
	case PhaseAwaitingOfficer:
		fmt.Fprintf(&b, "The checks found %d problems:\n", len(s.Findings))
		for i, f := range s.Findings {
			if i == 10 {
				fmt.Fprintf(&b, "- and %d more (the status query lists them all)\n", len(s.Findings)-10)
				break
			}
			fmt.Fprintf(&b, "- %s\n", declaration.Printable(clip(f.Message)))
		}
		officer := "<officer>"
		if len(s.Officers) > 0 {
			officer = s.Officers[0]
		}
		fmt.Fprintf(&b, "\nAwaiting a %s of %s (%s): update `%s` with "+
			`{"officer":"%s","outcome":"grant","reason":"..."}`+"; outcome grant, refuse or request-information (with "+
			`"requested":["..."]).`, RolePermitOfficer, s.Agency, strings.Join(s.Officers, ", "), UpdateDecide, officer)
	case PhaseDecided:
		fmt.Fprintf(&b, "Decided by %s: %s.", s.Decision.Officer, s.Decision.Outcome)
	case PhaseEnded:
		switch res := s.Result; {
		case res == nil:
			b.WriteString("Withdrawn by customs: the review ended cancelled.")
		case res.Disposition == Granted && res.Officer == "":
			fmt.Fprintf(&b, "Granted by the agency's rules: permit %s, valid until %s.", res.Permit, date(res.ValidUntil))
		case res.Disposition == Granted:
			fmt.Fprintf(&b, "Granted by %s: permit %s, valid until %s: %s", res.Officer, res.Permit, date(res.ValidUntil),
				declaration.Printable(clip(res.Reason)))
		case res.Disposition == Refused:
			fmt.Fprintf(&b, "Refused by %s: %s", res.Officer, declaration.Printable(clip(res.Reason)))
		default:
			fmt.Fprintf(&b, "More information needed, asked by %s (%s): %s", res.Officer,
				declaration.Printable(clip(strings.Join(res.Requested, ", "))), declaration.Printable(clip(res.Reason)))
		}
	}
	return b.String()
}

// Search attribute names of the agency's namespace. An agency officer's queue is the list
// filter PermitStatus = 'awaiting-officer'.
const (
	SAStatus            = "PermitStatus"
	SAClearanceID       = "ClearanceId"
	SADeclarationID     = "DeclarationId"
	SAExporterCode      = "ExporterCode"
	SAProductCategories = "ProductCategories"
	SAOfficer           = "PermitOfficer"
)

// Typed search attribute keys.
var (
	StatusKey            = temporal.NewSearchAttributeKeyKeyword(SAStatus)
	ClearanceIDKey       = temporal.NewSearchAttributeKeyKeyword(SAClearanceID)
	DeclarationIDKey     = temporal.NewSearchAttributeKeyKeyword(SADeclarationID)
	ExporterCodeKey      = temporal.NewSearchAttributeKeyKeyword(SAExporterCode)
	ProductCategoriesKey = temporal.NewSearchAttributeKeyKeywordList(SAProductCategories)
	OfficerKey           = temporal.NewSearchAttributeKeyKeyword(SAOfficer)
)

// SearchAttributes returns the custom search attributes an agency's namespace needs, with their
// types.
func SearchAttributes() map[string]enumspb.IndexedValueType {
	return map[string]enumspb.IndexedValueType{
		SAStatus:            enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SAClearanceID:       enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SADeclarationID:     enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SAExporterCode:      enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SAProductCategories: enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST,
		SAOfficer:           enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	}
}

// RequestAttributes are the search attributes a request gives its review: the clearance, the
// declaration, its exporter and the categories of the lines asked about.
func RequestAttributes(req PermitRequest) []temporal.SearchAttributeUpdate {
	var cats []string
	for _, l := range req.requested() {
		if !slices.Contains(cats, string(l.Category)) {
			cats = append(cats, string(l.Category))
		}
	}
	return []temporal.SearchAttributeUpdate{
		ClearanceIDKey.ValueSet(req.ClearanceID),
		DeclarationIDKey.ValueSet(req.Declaration.ID),
		ExporterCodeKey.ValueSet(req.Declaration.Exporter.Code),
		ProductCategoriesKey.ValueSet(cats),
	}
}
