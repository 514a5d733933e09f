package workflows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
)

// setup registers the query, updates and signal. Validators only read state: a refused update
// changes nothing and leaves no event in the history. Update payloads arrive as raw JSON so that
// the validator can refuse unknown fields; the handler decodes what the validator accepted.
func (c *clearance) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandlerWithOptions(ctx, QueryStatus, func() (Status, error) {
		return c.status(workflow.Now(ctx)), nil
	}, workflow.QueryHandlerOptions{
		Description: "Where the clearance stands: stage, lane, state and phase, what it accepts now, what it waits " +
			"for and from whom, the findings of every check, every decision and the timeline against each stage's allowance.",
	}); err != nil {
		return fmt.Errorf("register query %s: %w", QueryStatus, err)
	}

	if err := workflow.SetQueryHandlerWithOptions(ctx, QueryResult, func() (Result, error) {
		if c.result == nil {
			return Result{}, fmt.Errorf("the clearance of %s has not ended: it is %s", c.decl.ID, c.State)
		}
		return *c.result, nil
	}, workflow.QueryHandlerOptions{
		Description: "The result of an ended clearance: its outcome, release notice, timeline and decisions against the standard. " +
			"An error while the clearance runs.",
	}); err != nil {
		return fmt.Errorf("register query %s: %w", QueryResult, err)
	}

	if err := onUpdate(ctx, UpdateDecide, c.validateDecide,
		func(ctx workflow.Context, raw json.RawMessage, caller *Principal) (DecisionRecord, error) {
			return c.accept(ctx, asCaller(lenient[Decision](raw), caller), ViaUpdate, caller != nil), nil
		},
		`{"stage":"document-check","officer":"doc-li","outcome":"approve"} `+
			"An officer decides the current stage: outcome approve, reject or request-information (with "+
			`"requested":["quality-declaration"]). A reject, a request, and an approval over an error-level finding need `+
			`a "reason". The clearance's current details end with this input for its stage and officers. Refused, `+
			"naming why, unless the stage awaits this officer's role; and for the biological review's officer at the release."); err != nil {
		return err
	}

	if err := onUpdate(ctx, UpdateReroute, c.validateRerouteUpdate,
		func(ctx workflow.Context, raw json.RawMessage, caller *Principal) (RerouteRecord, error) {
			r := lenient[Reroute](raw)
			if caller != nil && r.Officer == "" {
				r.Officer = caller.Subject
			}
			return c.reroute(ctx, r)
		},
		`{"officer":"sup-huang","lane":"red","reason":"..."} `+
			"A supervisor moves the clearance to another risk lane (green, yellow or red) from the next stage; red adds a "+
			"physical inspection before release. Refused once the release notice is being issued."); err != nil {
		return err
	}

	if err := onUpdate(ctx, UpdateExtend, c.validateExtendUpdate,
		func(ctx workflow.Context, raw json.RawMessage, caller *Principal) (ExtensionRecord, error) {
			x := lenient[Extension](raw)
			if caller != nil && x.Supervisor == "" {
				x.Supervisor = caller.Subject
			}
			return c.extend(ctx, x), nil
		},
		`{"stage":"biological-review","supervisor":"sup-huang","by":"5d","reason":"..."} `+
			"A supervisor extends the current stage's allowance, once, by at most the allowance itself; the exporter is "+
			"told the reason. Refused once the allowance has run out, or a second time."); err != nil {
		return err
	}

	if err := onUpdate(ctx, UpdateSupplyDocuments, c.validateSupplyUpdate,
		func(ctx workflow.Context, raw json.RawMessage, _ *Principal) (SupplyRecord, error) {
			return c.supply(ctx, lenient[Supply](raw)), nil
		},
		`The exporter's (starter supply): {"documents":[{"type":"quality-declaration","reference":"QD-1"}],"note":"..."} `+
			"answers a request for information; the stage's checks run again and the officer reviews the answer. "+
			"Refused unless documents are awaited."); err != nil {
		return err
	}

	if err := onUpdate(ctx, UpdateWithdraw, c.validateWithdrawUpdate,
		func(ctx workflow.Context, raw json.RawMessage, _ *Principal) (State, error) {
			w := lenient[Withdrawal](raw)
			c.withdrawal = &w
			c.enter(ctx, PhaseWithdrawing)
			return StateWithdrawn, nil
		},
		`The exporter's (starter withdraw): {"reason":"..."} withdraws the declaration. `+
			"Refused once an officer's decision is being applied, the release has been approved, or the clearance is ending."); err != nil {
		return err
	}

	if err := c.setupWork(ctx); err != nil {
		return err
	}
	if err := c.setupHolds(ctx); err != nil {
		return err
	}
	if err := c.setupAmendments(ctx); err != nil {
		return err
	}
	if err := c.setupDeclarationQuery(ctx); err != nil {
		return err
	}

	c.rosterSignals = workflow.GetSignalChannelWithOptions(ctx, SignalRosterChanged, workflow.SignalChannelOptions{
		Description: "The officer roster changed: the clearance reads it again, so that an officer taken off it " +
			"can no longer decide and one added can. Any payload is ignored; changes announced together are read once.",
	})
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			c.rosterSignals.Receive(ctx, nil)
			for c.rosterSignals.ReceiveAsync(nil) {
			}
			if c.phase == PhaseEnded {
				continue
			}
			if err := c.refreshRoster(ctx); err != nil {
				workflow.GetLogger(ctx).Warn("roster refresh failed", "declarationID", c.decl.ID, "error", err)
			}
		}
	})

	c.decisionSignals = workflow.GetSignalChannelWithOptions(ctx, SignalDecision, workflow.SignalChannelOptions{
		Description: "The same decision as the update \"decide\", for clients that can only signal. " +
			"A decision that does not fit is not applied; it is listed under refusedDecisions in the status.",
	})
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			s := c.receiveDecision(ctx)
			switch {
			case s.unreadable != nil:
				c.refuse(ctx, Decision{}, s.caller, malformed{s.unreadable})
			case c.phase == PhaseContinuing && len(s.raw) <= MaxPayloadBytes:
				// Sent while the clearance moves to its next run: taken up there, when it next
				// awaits an officer. A signal's sender cannot be told to try again. One too
				// large to carry is refused here.
				c.hold(s.raw, s.caller)
			default:
				c.takeSignal(ctx, s.raw, s.caller)
			}
		}
	})
	return nil
}

// takeSignal applies a decision signal or records why it cannot be applied. caller is the
// signal's verified sender, nil without authentication.
func (c *clearance) takeSignal(ctx workflow.Context, raw json.RawMessage, caller *Principal) {
	d, err := c.validateSignal(raw, caller)
	var wrongCaller callerError
	if errors.As(err, &wrongCaller) {
		// Whoever the payload names, a decision is the verified caller's or none.
		c.refuse(ctx, d, caller, err)
		return
	}
	// A clearance started before ChangeExplicitPhases applies what its release applied: a
	// decision that decoded (the release refused the malformed ones) and met its rules, and the
	// rules added since for every clearance (laterRules).
	var m malformed
	if err != nil && !errors.As(err, &m) && c.appliedBeforeExplicitPhases(d) && c.laterRules(d) == nil && !c.rel.explicitPhases(ctx) {
		err = nil
	}
	if err != nil {
		c.refuse(ctx, d, caller, err)
		return
	}
	c.accept(ctx, d, ViaSignal, caller != nil)
}

// hold keeps a decision signal and its verified sender for the next run, at most MaxRefusedKept
// of them.
func (c *clearance) hold(raw json.RawMessage, caller *Principal) {
	if len(c.HeldSignals) < MaxRefusedKept {
		c.HeldSignals = append(c.HeldSignals, raw)
		var p Principal
		if caller != nil {
			p = *caller
		}
		c.HeldCallers = append(c.HeldCallers, p)
	}
}

// takeHeld takes up the decision signals an earlier run held, now that an officer is awaited.
func (c *clearance) takeHeld(ctx workflow.Context) {
	held, callers := c.HeldSignals, c.HeldCallers
	c.HeldSignals, c.HeldCallers = nil, nil
	for i, raw := range held {
		var caller *Principal
		if i < len(callers) && callers[i].Subject != "" {
			caller = &callers[i]
		}
		if c.phase != PhaseAwaitingOfficer {
			c.hold(raw, caller) // a held decision was applied; the rest wait for the next officer wait
			continue
		}
		c.takeSignal(ctx, raw, caller)
	}
}

// signalsTaken reports whether every delivered signal has been read.
func (c *clearance) signalsTaken() bool {
	return c.decisionSignals.Len() == 0 && c.rosterSignals.Len() == 0
}

// Bounds of what an update or signal may carry. With them a clearance's state and every payload
// it writes stay far below Temporal's payload limit, whatever clients send.
const (
	// MaxPayloadBytes bounds the JSON of one update or signal.
	MaxPayloadBytes = 64 << 10
	// MaxReasonBytes bounds a reason or a note; the exporter reads it.
	MaxReasonBytes = 4096
	// MaxRequested bounds the documents a request for information names, MaxRequestedBytes each.
	MaxRequested      = 20
	MaxRequestedBytes = 200
	// MaxSuppliedDocuments and MaxSuppliedCertificates bound one answer of the exporter.
	MaxSuppliedDocuments    = 10
	MaxSuppliedCertificates = 10
	// MaxInformationRequests is how often one stage may ask the exporter for information.
	MaxInformationRequests = 5
	// MaxReroutes is how often a clearance may change lanes.
	MaxReroutes = 10
	// MaxRefusedKept is how many refused decision signals the status lists, the latest; it
	// counts them all.
	MaxRefusedKept = 20
)

// malformed is a decision signal that does not decode as a decision; its message is the decoder's.
type malformed struct{ error }

// strict decodes an update's payload as its validator must: one JSON object of at most
// MaxPayloadBytes, every field known.
func strict[T any](raw json.RawMessage, what string) (T, error) {
	var v T
	if err := fits(raw, what); err != nil {
		return v, err
	}
	return known[T](raw, what)
}

// fits refuses a payload larger than MaxPayloadBytes.
func fits(raw json.RawMessage, what string) error {
	if len(raw) > MaxPayloadBytes {
		return fmt.Errorf("%s: %d bytes is larger than the %d a request may carry", what, len(raw), MaxPayloadBytes)
	}
	return nil
}

// known decodes one JSON object whose every field is known.
func known[T any](raw json.RawMessage, what string) (T, error) {
	var v T
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, fmt.Errorf("malformed %s: %s", what, strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return v, fmt.Errorf("malformed %s: data after the JSON object", what)
	}
	return v, nil
}

// lenient decodes a payload its validator accepted. It never fails: a replayed history decodes
// the payloads earlier releases accepted as they did.
func lenient[T any](raw json.RawMessage) T {
	var v T
	_ = json.Unmarshal(raw, &v) // validated before it was accepted
	return v
}

// validateDecide is the validator of the update "decide".
func (c *clearance) validateDecide(raw json.RawMessage, caller *Principal) error {
	return validateAs(raw, "decision", func(d Decision) error {
		d = asCaller(d, caller)
		if err := callerIs(d.Officer, caller); err != nil {
			return err
		}
		return c.validateDecision(d, UpdateDecide)
	})
}

// onUpdate registers the update name: its payload arrives as raw JSON, validate checks it with the
// request's verified caller (refusing an unreadable one), and apply carries out what it accepted,
// given the same caller (nil without authentication).
func onUpdate[R any](ctx workflow.Context, name string, validate func(json.RawMessage, *Principal) error,
	apply func(workflow.Context, json.RawMessage, *Principal) (R, error), description string) error {
	if err := workflow.SetUpdateHandlerWithOptions(ctx, name,
		func(ctx workflow.Context, raw json.RawMessage) (R, error) {
			caller, _ := principalOf(ctx) // the validator refused an unreadable one
			return apply(ctx, raw, caller)
		},
		workflow.UpdateHandlerOptions{
			Validator:   func(ctx workflow.Context, raw json.RawMessage) error { return withCaller(ctx, raw, validate) },
			Description: description,
		}); err != nil {
		return fmt.Errorf("register update %s: %w", name, err)
	}
	return nil
}

// withCaller runs an update's validator with the request's verified caller.
func withCaller(ctx workflow.Context, raw json.RawMessage, validate func(json.RawMessage, *Principal) error) error {
	caller, err := principalOf(ctx)
	if err != nil {
		return Refusal(err)
	}
	return Refusal(validate(raw, caller))
}

// ErrTypeRefused is the failure type of a request a validator refused.
const ErrTypeRefused = "RequestRefused"

// Refusal is a validator's refusal as the caller receives it: a non-retryable application error
// of type ErrTypeRefused with the reason, so that no client (the temporal CLI among them) offers
// to retry what the clearance will refuse again. Nil stays nil.
func Refusal(err error) error {
	if err == nil {
		return nil
	}
	return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeRefused, nil)
}

// asCaller fills a decision's officer from its verified caller when the payload leaves it out.
func asCaller(d Decision, caller *Principal) Decision {
	if caller != nil && d.Officer == "" {
		d.Officer = caller.Subject
	}
	return d
}

// callerError is a request whose officer is not its verified caller.
type callerError struct{ error }

// callerIs refuses an officer who is not the verified caller: an officer decides, and a
// supervisor reroutes, only as themself. Without a verified caller it refuses nothing.
func callerIs(officer string, caller *Principal) error {
	if caller == nil || officer == caller.Subject {
		return nil
	}
	return callerError{fmt.Errorf("officer: %q is not the caller: you are signed in as %q, and an officer acts only as themself",
		clip(officer, MaxRequestedBytes), caller.Subject)}
}

// callerActsForExporter refuses a verified caller who does not act for the clearance's
// exporter: only the exporter supplies documents or withdraws its declaration.
func (c *clearance) callerActsForExporter(caller *Principal) error {
	switch {
	case caller == nil:
		return nil
	case caller.Has(RoleAdmin):
		return nil
	case !caller.Has(RoleExporter):
		return fmt.Errorf("permission denied: only the exporter answers for its declaration; %q is not an exporter", caller.Subject)
	case caller.Exporter != c.decl.Exporter.Code:
		return fmt.Errorf("permission denied: this clearance is of exporter %s's declaration; you are signed in for exporter %s",
			c.decl.Exporter.Code, caller.Exporter)
	}
	return nil
}

// validateAs decodes an update's payload strictly and validates what it holds.
func validateAs[T any](raw json.RawMessage, what string, validate func(T) error) error {
	v, err := strict[T](raw, what)
	if err != nil {
		return err
	}
	return validate(v)
}

// validateSignal decodes a decision signal and says why it cannot be applied, or returns nil. The
// decision is returned as far as it decoded.
func (c *clearance) validateSignal(raw json.RawMessage, caller *Principal) (Decision, error) {
	d, err := known[Decision](raw, "decision")
	if err != nil {
		return d, malformed{err}
	}
	d = asCaller(d, caller)
	if err := callerIs(d.Officer, caller); err != nil {
		return d, err
	}
	if err := c.validateDecision(d, SignalDecision); err != nil {
		return d, err
	}
	return d, fits(raw, "decision")
}

// validateRerouteUpdate is the validator of the update "reroute".
func (c *clearance) validateRerouteUpdate(raw json.RawMessage, caller *Principal) error {
	return validateAs(raw, "reroute", func(r Reroute) error {
		if caller != nil && r.Officer == "" {
			r.Officer = caller.Subject
		}
		if err := callerIs(r.Officer, caller); err != nil {
			return err
		}
		return c.validateReroute(r)
	})
}

// validateExtendUpdate is the validator of the update "extend".
func (c *clearance) validateExtendUpdate(raw json.RawMessage, caller *Principal) error {
	return validateAs(raw, "extension", func(x Extension) error {
		if caller != nil && x.Supervisor == "" {
			x.Supervisor = caller.Subject
		}
		if err := callerIs(x.Supervisor, caller); err != nil {
			return err
		}
		return c.validateExtend(x)
	})
}

func (c *clearance) validateExtend(x Extension) error {
	if err := c.admit(UpdateExtend); err != nil {
		return err
	}
	if x.Stage != c.Stage {
		return fmt.Errorf("stage: %q is not the current stage, %s", clip(string(x.Stage), MaxRequestedBytes), c.Stage)
	}
	if x.Supervisor == "" {
		return fmt.Errorf("supervisor: missing")
	}
	o, ok := c.Configuration.Roster.Find(x.Supervisor)
	if !ok {
		return fmt.Errorf("supervisor: %q is not on the roster", clip(x.Supervisor, MaxRequestedBytes))
	}
	if !contains(rolesOf(o), string(policy.RoleSupervisor)) {
		return fmt.Errorf("supervisor: %q is not a supervisor; only a supervisor may extend an allowance", x.Supervisor)
	}
	if c.stageIdx >= len(c.Timeline) || c.Timeline[c.stageIdx].Stage != c.Stage {
		return fmt.Errorf("stage: %s has not begun", c.Stage)
	}
	st := c.Timeline[c.stageIdx]
	if st.Extension != nil {
		return fmt.Errorf("stage: the %s allowance was extended already, by %s at %s; it is extended once",
			st.Stage, st.Extension.Supervisor, st.Extension.At.UTC().Format("2006-01-02 15:04 MST"))
	}
	if st.Escalated {
		return fmt.Errorf("stage: the %s allowance has run out and the stage was escalated; an overrun is not extended after the fact", st.Stage)
	}
	if x.By.D() <= 0 {
		return fmt.Errorf("by: the extension must be positive, such as \"5d\"")
	}
	if x.By.D() > st.Allowance.D() {
		return fmt.Errorf("by: %s is more than the stage's own allowance, %s", x.By, st.Allowance)
	}
	if strings.TrimSpace(x.Reason) == "" {
		return fmt.Errorf("reason: required to extend; the exporter is told it")
	}
	return text("reason", x.Reason, MaxReasonBytes, true)
}

// extend applies an accepted extension: the stage's due time moves on by the extension,
// counted as the policy counts, its allowance is watched to the new due time, and the exporter
// is told why.
func (c *clearance) extend(ctx workflow.Context, x Extension) ExtensionRecord {
	now := workflow.Now(ctx)
	st := &c.Timeline[c.stageIdx]
	rec := ExtensionRecord{Extension: x, At: now, DueWas: st.Due, DueNow: c.Configuration.Policy.Calendar.Due(st.Due, x.By.D())}
	st.Due, st.Extension = rec.DueNow, &rec
	if c.waiting == nil || !c.waiting.ClockStopped || !c.rel.extensionKeepsTheClockStopped(ctx) {
		c.restartWatch(rec.DueNow.Sub(now))
	}
	workflow.GetLogger(ctx).Info("allowance extended", "declarationID", c.decl.ID, "stage", x.Stage,
		"supervisor", x.Supervisor, "by", x.By, "due", rec.DueNow)
	workflow.SetCurrentDetails(ctx, c.details(now))
	if c.rel.keepsStudy {
		// The study shows the new due time: a reader must not count the stage overrun at the old one.
		if err := c.keepStudy(ctx); err != nil {
			workflow.GetLogger(ctx).Warn("study memo not written", "declarationID", c.decl.ID, "error", err)
		}
	}
	c.notify(ctx, activities.Notification{Kind: activities.NotifyExtension, Due: rec.DueNow,
		Message: fmt.Sprintf("Declaration %s: the %s allowance is extended by %s, to %s: %s",
			c.decl.ID, x.Stage, x.By, rec.DueNow.UTC().Format("2006-01-02 15:04 MST"), x.Reason)})
	return rec
}

// validateSupplyUpdate is the validator of the update "supply-documents".
func (c *clearance) validateSupplyUpdate(raw json.RawMessage, caller *Principal) error {
	if err := c.callerActsForExporter(caller); err != nil {
		return err
	}
	return validateAs(raw, "supply", c.validateSupply)
}

// validateWithdrawUpdate is the validator of the update "withdraw".
func (c *clearance) validateWithdrawUpdate(raw json.RawMessage, caller *Principal) error {
	if err := c.callerActsForExporter(caller); err != nil {
		return err
	}
	return validateAs(raw, "withdrawal", c.validateWithdrawal)
}

// refuse records a refused decision signal, keeping the latest MaxRefusedKept with their texts
// cut to their bounds, and counting them all.
func (c *clearance) refuse(ctx workflow.Context, d Decision, sender *Principal, err error) {
	d.Reason = clip(d.Reason, MaxReasonBytes)
	if len(d.Requested) > MaxRequested {
		d.Requested = d.Requested[:MaxRequested]
	}
	for i := range d.Requested {
		d.Requested[i] = clip(d.Requested[i], MaxRequestedBytes)
	}
	d.Officer, d.Stage = clip(d.Officer, MaxRequestedBytes), policy.Stage(clip(string(d.Stage), MaxRequestedBytes))
	c.RefusedCount++
	r := RefusedDecision{Decision: d, At: workflow.Now(ctx), Reason: clip(err.Error(), MaxReasonBytes)}
	if sender != nil {
		r.Sender = sender.Subject
	}
	c.Refused = append(c.Refused, r)
	if len(c.Refused) > MaxRefusedKept {
		c.Refused = append([]RefusedDecision(nil), c.Refused[len(c.Refused)-MaxRefusedKept:]...)
	}
	workflow.GetLogger(ctx).Warn("decision signal refused", "declarationID", c.decl.ID,
		"officer", d.Officer, "reason", err.Error())
}

// clip cuts s to at most n bytes, at a character boundary (declaration.Clip).
func clip(s string, n int) string { return declaration.Clip(s, n) }

// text returns the refusal for a text field that is too long or holds control characters.
func text(field, s string, max int, multiline bool) error {
	if why := declaration.TextProblem(s, max, multiline); why != "" {
		return fmt.Errorf("%s: %s", field, why)
	}
	return nil
}

// validateDecision says why a decision sent as request (the update or the signal) cannot be
// carried out now, or returns nil.
func (c *clearance) validateDecision(d Decision, request string) error {
	if d.Stage == "" {
		return fmt.Errorf("stage: missing")
	}
	if err := text("stage", string(d.Stage), MaxRequestedBytes, false); err != nil {
		return err
	}
	if c.phase != PhaseEnded && d.Stage != c.Stage {
		return fmt.Errorf("stage: %q is not the current stage (%s)", d.Stage, c.Stage)
	}
	if err := c.admit(request); err != nil {
		return err
	}
	if err := c.decisionRules(d); err != nil {
		return err
	}
	if err := c.laterRules(d); err != nil {
		return err
	}
	if err := text("reason", d.Reason, MaxReasonBytes, true); err != nil {
		return err
	}
	if len(d.Requested) > MaxRequested {
		return fmt.Errorf("requested: %d documents are more than the %d a request may name", len(d.Requested), MaxRequested)
	}
	for i, r := range d.Requested {
		if strings.TrimSpace(r) == "" {
			return fmt.Errorf("requested[%d]: blank", i)
		}
		if err := text(fmt.Sprintf("requested[%d]", i), r, MaxRequestedBytes, false); err != nil {
			return err
		}
	}
	switch d.Outcome {
	case OutcomeApprove:
		if f, ok := c.blockingFinding(); ok && strings.TrimSpace(d.Reason) == "" {
			return fmt.Errorf("reason: required to approve over the error-level finding %q (%s)", f.Code, clip(f.Message, 200))
		}
	case OutcomeRequestInformation:
		if n := c.informationRequests(); n >= MaxInformationRequests {
			return fmt.Errorf("outcome: the %s stage has asked the exporter for information %d times, the most a stage may; approve or reject",
				c.Stage, n)
		}
	}
	return nil
}

// decisionRules are the rules every release of the workflow has held a decision to: the officer
// on the roster with the stage's role and not barred by the separation of duties, a known
// outcome, and a reason for a reject or a request.
func (c *clearance) decisionRules(d Decision) error {
	if err := c.mayDecide(d.Officer, d.Stage); err != nil {
		return err
	}
	switch d.Outcome {
	case OutcomeApprove:
	case OutcomeReject, OutcomeRequestInformation:
		if strings.TrimSpace(d.Reason) == "" {
			return fmt.Errorf("reason: required to %s", d.Outcome)
		}
	default:
		return fmt.Errorf("outcome: %q is not approve, reject or request-information", clip(string(d.Outcome), MaxRequestedBytes))
	}
	return nil
}

// appliedBeforeExplicitPhases reports whether the release before ChangeExplicitPhases applied the
// decision signal: its rules, in the state it looked at.
func (c *clearance) appliedBeforeExplicitPhases(d Decision) bool {
	if c.State.Final() || d.Stage == "" || d.Stage != c.Stage || c.State != StateAwaitingOfficer ||
		c.pending != nil || c.withdrawal != nil {
		return false
	}
	if !c.rel.decidesWhileActing() && c.phase != PhaseAwaitingOfficer {
		return false
	}
	return c.decisionRules(d) == nil
}

// laterRules are the rules of a decision added after ChangeExplicitPhases that hold for every
// clearance, whichever release it follows: no decision while a hold stands, while another
// officer holds the stage by claim, or while an amendment awaits consent. A clearance of the
// earlier release met none of them before the features came, so its history replays the same.
func (c *clearance) laterRules(d Decision) error {
	if err := c.claimRefusal(d); err != nil {
		return err
	}
	if err := c.holdRefusal(); err != nil {
		return err
	}
	if p := c.awaitingConsent(); p != nil {
		return fmt.Errorf("stage: the exporter's amendment %d awaits an officer's consent; consent to it or refuse it first (update %s)",
			p.Version, UpdateDecideAmendment)
	}
	return nil
}

// blockingFinding returns an error-level finding of the latest checks of the current stage, or of
// an earlier stage whose checks ran again on the exporter's answer since an officer last approved.
func (c *clearance) blockingFinding() (activities.Finding, bool) {
	for _, f := range c.toWeigh() {
		if f.Severity == activities.SeverityError {
			return f, true
		}
	}
	return activities.Finding{}, false
}

// toWeigh returns the findings the officer of the current stage weighs: the latest checks of the
// stage, and of each earlier stage whose checks ran again (on the exporter's answer or an
// amendment) since an officer last approved; the latest stage's first.
func (c *clearance) toWeigh() []activities.Finding {
	var out []activities.Finding
	seen := map[policy.Stage]bool{}
	for i := len(c.Findings) - 1; i >= 0; i-- {
		st := c.Findings[i].Stage
		if seen[st] {
			continue
		}
		seen[st] = true
		if st != c.Stage && (!c.Findings[i].Recheck || i < c.Weighed) {
			continue
		}
		out = append(out, c.Findings[i].Result.Findings...)
	}
	return out
}

// informationRequests counts the current stage's requests for information.
func (c *clearance) informationRequests() int {
	n := 0
	for _, d := range c.Decisions {
		if d.Stage == c.Stage && d.Outcome == OutcomeRequestInformation {
			n++
		}
	}
	return n
}

// accept records a valid decision for run to apply.
func (c *clearance) accept(ctx workflow.Context, d Decision, via Via, verified bool) DecisionRecord {
	r := DecisionRecord{Decision: d, At: workflow.Now(ctx), Via: via, Verified: verified}
	c.record(ctx, r)
	if d.Outcome == OutcomeApprove {
		c.Weighed = len(c.Findings)
	}
	c.pending = &r
	c.enter(ctx, PhaseDecided)
	return r
}

func (c *clearance) validateReroute(r Reroute) error {
	if err := c.admit(UpdateReroute); err != nil {
		return err
	}
	if c.Stage == policy.StageRelease && c.rel.phases != nil && !*c.rel.phases {
		// A clearance that keeps the release before ChangeExplicitPhases keeps its rule.
		return fmt.Errorf("the release stage has begun; the lane can no longer change")
	}
	if r.Officer == "" {
		return fmt.Errorf("officer: missing")
	}
	o, ok := c.Configuration.Roster.Find(r.Officer)
	if !ok {
		return fmt.Errorf("officer: %q is not on the roster", clip(r.Officer, MaxRequestedBytes))
	}
	if !contains(rolesOf(o), string(policy.RoleSupervisor)) {
		return fmt.Errorf("officer: %q is not a supervisor; only a supervisor may reroute", r.Officer)
	}
	if !policy.ValidLane(r.Lane) {
		return fmt.Errorf("lane: %q is not green, yellow or red", clip(string(r.Lane), MaxRequestedBytes))
	}
	if r.Lane == c.Lane {
		return fmt.Errorf("lane: the clearance is already in the %s lane", r.Lane)
	}
	if c.Lane == policy.LaneRed && c.Stage == policy.StagePhysicalInspection {
		return fmt.Errorf("lane: the physical inspection has begun; it must be decided first")
	}
	if strings.TrimSpace(r.Reason) == "" {
		return fmt.Errorf("reason: required to reroute")
	}
	if err := text("reason", r.Reason, MaxReasonBytes, true); err != nil {
		return err
	}
	if len(c.Reroutes) >= MaxReroutes {
		return fmt.Errorf("lane: the clearance has changed lanes %d times, the most it may", len(c.Reroutes))
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
	rec := RerouteRecord{Reroute: r, From: c.Lane, At: workflow.Now(ctx)}
	c.Reroutes = append(c.Reroutes, rec)
	c.Lane = r.Lane
	workflow.GetLogger(ctx).Info("lane rerouted", "declarationID", c.decl.ID, "officer", r.Officer,
		"from", rec.From, "lane", r.Lane)
	if c.Stage == policy.StageRelease && c.owed() != policy.StageRelease {
		// The goods have not left: the new lane's stages come before the release.
		c.enter(ctx, PhaseRerouting)
	}
	workflow.SetCurrentDetails(ctx, c.details(workflow.Now(ctx)))
	return rec, c.rel.rerouted(ctx, c)
}

func (c *clearance) validateSupply(s Supply) error {
	if err := c.admit(UpdateSupplyDocuments); err != nil {
		return err
	}
	if len(s.Documents) == 0 && len(s.Certificates) == 0 {
		return fmt.Errorf("documents: supply at least one document or certificate")
	}
	if len(s.Documents) > MaxSuppliedDocuments {
		return fmt.Errorf("documents: %d are more than the %d one answer may carry", len(s.Documents), MaxSuppliedDocuments)
	}
	if len(s.Certificates) > MaxSuppliedCertificates {
		return fmt.Errorf("certificates: %d are more than the %d one answer may carry", len(s.Certificates), MaxSuppliedCertificates)
	}
	if err := text("note", s.Note, MaxReasonBytes, true); err != nil {
		return err
	}
	if missing := c.unanswered(s); len(missing) > 0 {
		return fmt.Errorf("documents: the officer asked for %s, which this answer does not carry", strings.Join(missing, ", "))
	}
	problems := attachmentProblems(s.Documents, s.Certificates)
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

// merge adds supplied documents and certificates to the declaration. A document with the type
// and reference of one already there replaces it (a corrected invoice), as a certificate with the
// scheme and number of one already there does.
func merge(d *declaration.Declaration, s Supply) {
	d.Documents = replaceOrAppend(d.Documents, s.Documents, func(a, b declaration.Document) bool {
		return a.Type == b.Type && a.Reference == b.Reference
	})
	d.Certificates = replaceOrAppend(d.Certificates, s.Certificates, func(a, b declaration.Certificate) bool {
		return a.Scheme == b.Scheme && a.Number == b.Number
	})
}

// replaceOrAppend returns a copy of list in which each of added replaces the items it is the same
// as, or is appended when there is none.
func replaceOrAppend[T any](list, added []T, same func(a, b T) bool) []T {
	out := append([]T(nil), list...)
	for _, n := range added {
		replaced := false
		for i := range out {
			if same(out[i], n) {
				out[i], replaced = n, true
			}
		}
		if !replaced {
			out = append(out, n)
		}
	}
	return out
}

// unanswered lists what the open request named, as document types or certificate schemes, that
// the answer does not carry. Requested items that name neither are the officer's words, read by
// the officer.
func (c *clearance) unanswered(s Supply) []string {
	if c.waiting == nil {
		return nil
	}
	var missing []string
	for _, r := range c.waiting.Requested {
		found := false
		switch {
		case declaration.DocumentType(r).Known():
			for _, d := range s.Documents {
				found = found || string(d.Type) == r
			}
		case declaration.Scheme(r).Known():
			for _, ct := range s.Certificates {
				found = found || string(ct.Scheme) == r
			}
		default:
			found = true
		}
		if !found {
			missing = append(missing, r)
		}
	}
	return missing
}

func (c *clearance) supply(ctx workflow.Context, s Supply) SupplyRecord {
	merge(&c.decl, s)
	rec := SupplyRecord{Stage: c.Stage, At: workflow.Now(ctx), Documents: len(s.Documents),
		Certificates: len(s.Certificates), Note: s.Note}
	c.Supplies = append(c.Supplies, rec)
	c.enter(ctx, PhaseSupplied)
	return rec
}

func (c *clearance) validateWithdrawal(w Withdrawal) error {
	if err := c.admit(UpdateWithdraw); err != nil {
		return err
	}
	if strings.TrimSpace(w.Reason) == "" {
		return fmt.Errorf("reason: required to withdraw")
	}
	return text("reason", w.Reason, MaxReasonBytes, true)
}

// status builds the answer to the status query.
func (c *clearance) status(now time.Time) Status {
	elapsed := policy.Duration(0)
	if !c.ended.IsZero() {
		elapsed = policy.Duration(c.ended.Sub(c.Submitted))
	}
	rec := c.recorded()
	rec.Findings, rec.Decisions = orEmpty(rec.Findings), orEmpty(rec.Decisions)
	rec.Timeline = orEmpty(append([]StageRecord(nil), rec.Timeline...))
	s := Status{
		Record:        rec,
		DeclarationID: c.decl.ID, Exporter: c.decl.Exporter.Code, Stage: c.Stage, Lane: c.Lane,
		LaneSelection: c.Selection, State: c.State, Phase: c.phase, Accepts: c.phase.Accepting(),
		Expedited: c.decl.IsExpedited(), SlaBreached: c.SlaBreached,
		Notice: c.notice, Reason: c.reason, Submitted: c.Submitted, Registration: c.Registration,
		Elapsed: elapsed, Standard: c.Configuration.Policy.Standard, Counting: c.Configuration.Policy.Calendar.Name(),
	}
	if w := c.waiting; w != nil {
		copied := *w
		s.Waiting = &copied
	}
	if h := c.holder(); h != "" {
		claim := *c.Claim
		s.Claim = &claim
	}
	if len(s.Holds) > 0 {
		at := now
		if !c.ended.IsZero() {
			at = c.ended
		}
		_, agencies := c.heldTimes(at)
		s.OtherAgencyTime = policy.Duration(agencies)
		s.Holds = append([]HoldRecord(nil), s.Holds...)
		for i := range s.Holds {
			if s.Holds[i].Lifted == nil {
				s.Holds[i].Held = policy.Duration(now.Sub(s.Holds[i].At))
			}
		}
	}
	s.UpTo(now)
	return s
}

// orEmpty makes a nil list an empty one, so JSON shows [] rather than null.
func orEmpty[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}
