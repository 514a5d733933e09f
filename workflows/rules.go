package workflows

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
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

// rechecksToWeigh reports whether an earlier stage's checks, run again on an amendment or the
// exporter's answer since an officer last approved, found what an officer weighs (an error or a
// warning): the stage in progress is then its officer's to decide, as it would have been had the
// declaration been lodged that way, however many amendments came since.
func (c *clearance) rechecksToWeigh() bool {
	for i := c.Weighed; i < len(c.Findings); i++ {
		if f := c.Findings[i]; f.Recheck && f.Stage != c.Stage && f.Result.NeedsOfficer() {
			return true
		}
	}
	return false
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
		asker := "the officer"
		if c.waiting != nil && len(c.waiting.Agencies) > 0 {
			asker = strings.Join(c.waiting.Agencies, " and ")
		}
		return fmt.Errorf("documents: %s asked for %s, which this answer does not carry", asker, strings.Join(missing, ", "))
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

func (c *clearance) validateWithdrawal(w Withdrawal) error {
	if err := c.admit(UpdateWithdraw); err != nil {
		return err
	}
	if strings.TrimSpace(w.Reason) == "" {
		return fmt.Errorf("reason: required to withdraw")
	}
	return text("reason", w.Reason, MaxReasonBytes, true)
}

// Bounds of what an update or signal may carry. With them, and the bounds of each list the state
// keeps (MaxWorkRecords, MaxHolds, MaxAmendments, MaxChangesKept ...), a clearance's state and
// every payload it writes stay under MaxCarriedBytes, half Temporal's payload limit, whatever
// clients send (TestContinueAsNewInputStaysUnderThePayloadLimit fills every list to its bound).
const (
	// MaxPayloadBytes bounds the JSON of one update or signal.
	MaxPayloadBytes = 64 << 10
	// MaxHeldSignalBytes bounds a decision signal held for the next run: the longest decision
	// the rules accept (a reason and the documents requested at their bounds) fits; a larger one
	// is refused at once.
	MaxHeldSignalBytes = 10 << 10
	// MaxCarriedBytes is the bound of what a run hands the next: half the server's 2 MiB.
	MaxCarriedBytes = 1 << 20
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
