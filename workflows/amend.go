package workflows

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
)

// Amendment of a lodged declaration (EU Union Customs Code Art. 173; ASYCUDA's post-entry
// amendment): the exporter changes goods lines, documents or certificates. Freely while no officer
// has started on the clearance; after that only with the consent of an officer who may decide the
// current stage. Each amendment is kept as a numbered diff of the declaration, and the checks of
// every stage it bears on run again.
const (
	// UpdateAmend carries the exporter's amendment.
	UpdateAmend = "amend"
	// UpdateDecideAmendment carries an officer's consent to an amendment, or its refusal.
	UpdateDecideAmendment = "decide-amendment"

	// PhaseAmended: an amendment has been applied; the checks it bears on run again next.
	PhaseAmended Phase = "amended"

	// MaxAmendments bounds the amendments of one clearance, refused ones included.
	MaxAmendments = 10
	// MaxAmendedLines bounds the lines one amendment replaces, adds or removes.
	MaxAmendedLines = 100
	// MaxChangesKept bounds the changes an amendment's record lists; it counts the rest.
	MaxChangesKept = 10
)

// Amendment is the payload of the update "amend". A line replaces the line with the same ID or is
// added; a document replaces the one with the same type and reference, a certificate the one with
// the same scheme and number, or they are added.
type Amendment struct {
	Lines        []declaration.Line        `json:"lines,omitempty"`
	RemoveLines  []string                  `json:"removeLines,omitempty"`
	Documents    []declaration.Document    `json:"documents,omitempty"`
	Certificates []declaration.Certificate `json:"certificates,omitempty"`
	// Reason says why the declaration is amended; officers and the trail read it.
	Reason string `json:"reason"`
}

// Statuses of an amendment.
const (
	AmendmentApplied         = "applied"
	AmendmentAwaitingConsent = "awaiting-consent"
	AmendmentRefused         = "refused"
	// AmendmentUndecided: the clearance ended while the amendment awaited consent.
	AmendmentUndecided = "undecided"
)

// Outcomes of the update "decide-amendment".
const (
	AmendmentConsent = "consent"
	AmendmentRefuse  = "refuse"
)

// AmendmentDecision is the payload of the update "decide-amendment".
type AmendmentDecision struct {
	Officer string `json:"officer"`
	// Amendment is the number of the amendment decided: the one that awaits consent.
	Amendment int    `json:"amendment"`
	Outcome   string `json:"outcome"`
	// Reason is required to refuse; the exporter is told it.
	Reason string `json:"reason,omitempty"`
}

// AmendmentRecord is one amendment as the clearance keeps it: its number (the declaration as
// lodged is version 0), what it changed, and who consented or refused.
type AmendmentRecord struct {
	Version int          `json:"version"`
	Stage   policy.Stage `json:"stage"`
	At      time.Time    `json:"at"`
	// By is the verified caller who sent it, when callers are verified.
	By      string               `json:"by,omitempty"`
	Reason  string               `json:"reason"`
	Changes []declaration.Change `json:"changes"`
	// MoreChanges counts the changes beyond MaxChangesKept that Changes leaves out.
	MoreChanges int    `json:"moreChanges,omitempty"`
	Status      string `json:"status"`
	// Officer consented or refused, at DecidedAt, with DecisionReason.
	Officer        string     `json:"officer,omitempty"`
	DecidedAt      *time.Time `json:"decidedAt,omitempty"`
	DecisionReason string     `json:"decisionReason,omitempty"`
	// Rechecked lists the earlier stages whose checks ran again on the amended declaration; the
	// current stage's checks always do.
	Rechecked []policy.Stage `json:"rechecked,omitempty"`
}

// AmendedScope is what an applied amendment changed, for the run to check again.
type AmendedScope struct {
	Lines        bool `json:"lines,omitempty"`
	Documents    bool `json:"documents,omitempty"`
	Certificates bool `json:"certificates,omitempty"`
	// Review: an officer had started on the clearance, so an officer reviews the stage again
	// whatever its checks find.
	Review bool `json:"review,omitempty"`
}

// setupAmendments registers the updates "amend" and "decide-amendment".
func (c *clearance) setupAmendments(ctx workflow.Context) error {
	if err := onUpdate(ctx, UpdateAmend, c.validateAmendUpdate,
		func(ctx workflow.Context, raw json.RawMessage, caller *Principal) (AmendmentRecord, error) {
			return c.amend(ctx, lenient[Amendment](raw), caller), nil
		},
		`The exporter's (starter amend): {"lines":[{"id":"1",...}],"removeLines":["2"],"documents":[...],"reason":"..."} `+
			"amends the declaration: a line replaces the one with its ID, a document the one of its type and reference. "+
			"Applied at once while no officer has started, else it awaits an officer's consent (decide-amendment); the "+
			"checks it bears on run again. Refused unless an officer is awaited, or when the amended declaration does not validate."); err != nil {
		return err
	}
	if err := onUpdate(ctx, UpdateDecideAmendment, c.validateDecideAmendmentUpdate,
		func(ctx workflow.Context, raw json.RawMessage, caller *Principal) (AmendmentRecord, error) {
			d := lenient[AmendmentDecision](raw)
			if caller != nil && d.Officer == "" {
				d.Officer = caller.Subject
			}
			return c.decideAmendment(ctx, d), nil
		},
		`{"officer":"doc-li","amendment":1,"outcome":"consent"} `+
			`An officer who may decide the stage consents to the exporter's amendment, or refuses it ("outcome":"refuse" `+
			"with a reason the exporter is told). On consent it applies, its checks run again and the officer reviews the stage."); err != nil {
		return err
	}
	return nil
}

// amended returns the declaration with the amendment applied; d is not changed.
func amended(d declaration.Declaration, a Amendment) declaration.Declaration {
	out := d
	out.Lines = nil
	for _, l := range d.Lines {
		if !slices.Contains(a.RemoveLines, l.ID) {
			out.Lines = append(out.Lines, l)
		}
	}
	out.Lines = replaceOrAppend(out.Lines, a.Lines, func(x, y declaration.Line) bool { return x.ID == y.ID })
	merge(&out, Supply{Documents: a.Documents, Certificates: a.Certificates})
	return out
}

// officerStarted reports whether an officer has started on the clearance: decided a stage, or
// claimed or been handed one. From then on an amendment needs an officer's consent.
func (c *clearance) officerStarted() bool {
	for _, d := range c.Decisions {
		if d.Via != ViaAutomatic {
			return true
		}
	}
	for _, w := range c.Work {
		if w.Kind == WorkClaimed || (w.Kind == WorkReassigned && w.Holder != "") {
			return true
		}
	}
	return false
}

// awaitingConsent returns the record of the amendment that awaits consent, or nil.
func (c *clearance) awaitingConsent() *AmendmentRecord {
	if c.ProposedAmendment == nil || len(c.Amendments) == 0 {
		return nil
	}
	return &c.Amendments[len(c.Amendments)-1]
}

// validateAmendUpdate is the validator of the update "amend".
func (c *clearance) validateAmendUpdate(raw json.RawMessage, caller *Principal) error {
	if err := c.callerActsForExporter(caller); err != nil {
		return err
	}
	return validateAs(raw, "amendment", c.validateAmendment)
}

func (c *clearance) validateAmendment(a Amendment) error {
	if err := c.admit(UpdateAmend); err != nil {
		return err
	}
	if p := c.awaitingConsent(); p != nil {
		return fmt.Errorf("amendment: amendment %d awaits an officer's consent since %s; it is decided first",
			p.Version, p.At.UTC().Format(time.RFC3339))
	}
	if len(c.Amendments) >= MaxAmendments {
		return fmt.Errorf("amendment: the declaration has been amended %d times, the most it may; withdraw it and lodge a new one",
			len(c.Amendments))
	}
	if strings.TrimSpace(a.Reason) == "" {
		return fmt.Errorf("reason: required to amend; the officer reads it")
	}
	if err := text("reason", a.Reason, MaxReasonBytes, true); err != nil {
		return err
	}
	if len(a.Lines)+len(a.RemoveLines)+len(a.Documents)+len(a.Certificates) == 0 {
		return fmt.Errorf("lines: the amendment changes no line, document or certificate")
	}
	if len(a.Lines) > MaxAmendedLines {
		return fmt.Errorf("lines: %d are more than the %d one amendment may carry", len(a.Lines), MaxAmendedLines)
	}
	if len(a.RemoveLines) > MaxAmendedLines {
		return fmt.Errorf("removeLines: %d are more than the %d one amendment may remove", len(a.RemoveLines), MaxAmendedLines)
	}
	if len(a.Documents) > MaxSuppliedDocuments {
		return fmt.Errorf("documents: %d are more than the %d one amendment may carry", len(a.Documents), MaxSuppliedDocuments)
	}
	if len(a.Certificates) > MaxSuppliedCertificates {
		return fmt.Errorf("certificates: %d are more than the %d one amendment may carry", len(a.Certificates), MaxSuppliedCertificates)
	}
	problems := attachmentProblems(a.Documents, a.Certificates)
	for i, l := range a.Lines {
		if strings.TrimSpace(l.ID) == "" {
			problems = append(problems, fmt.Sprintf("lines[%d].id: missing; a line replaces the line with its ID, or is added under it", i))
		} else if slices.Contains(a.RemoveLines, l.ID) {
			problems = append(problems, fmt.Sprintf("lines[%d].id: %q is also in removeLines", i, clip(l.ID, MaxRequestedBytes)))
		}
	}
	for i, id := range a.RemoveLines {
		if !slices.ContainsFunc(c.decl.Lines, func(l declaration.Line) bool { return l.ID == id }) {
			problems = append(problems, fmt.Sprintf("removeLines[%d]: the declaration has no line %q", i, clip(id, MaxRequestedBytes)))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	after := amended(c.decl, a)
	if err := after.Validate(); err != nil {
		return fmt.Errorf("the amended declaration does not validate: %w", err)
	}
	if len(declaration.Diff(c.decl, after)) == 0 {
		return fmt.Errorf("lines: the amendment changes nothing in the declaration")
	}
	if c.Stage != policy.StageDocumentCheck && after.NeedsBiologicalReview() != c.decl.NeedsBiologicalReview() {
		change := "drop"
		if after.NeedsBiologicalReview() {
			change = "add"
		}
		return fmt.Errorf("lines: the amendment would %s the biological review, and the clearance is past the document check; "+
			"withdraw the declaration and lodge a new one", change)
	}
	return nil
}

// amend records an accepted amendment: applied at once while no officer has started on the
// clearance, else kept until an officer consents or refuses.
func (c *clearance) amend(ctx workflow.Context, a Amendment, caller *Principal) AmendmentRecord {
	now := workflow.Now(ctx)
	changes := declaration.Diff(c.decl, amended(c.decl, a))
	rec := AmendmentRecord{Version: len(c.Amendments) + 1, Stage: c.Stage, At: now, Reason: a.Reason, Changes: changes}
	if len(changes) > MaxChangesKept {
		rec.Changes, rec.MoreChanges = changes[:MaxChangesKept], len(changes)-MaxChangesKept
	}
	if caller != nil {
		rec.By = caller.Subject
	}
	started := c.officerStarted()
	rec.Status = AmendmentApplied
	if started {
		rec.Status = AmendmentAwaitingConsent
	}
	c.Amendments = append(c.Amendments, rec)
	workflow.GetLogger(ctx).Info("declaration amended", "declarationID", c.decl.ID, "amendment", rec.Version,
		"stage", c.Stage, "changes", len(changes), "status", rec.Status)
	if started {
		c.ProposedAmendment = &a
		workflow.SetCurrentDetails(ctx, c.details(now))
		return rec
	}
	c.applyAmendment(ctx, a, false)
	return rec
}

// applyAmendment changes the declaration and hands the run the checks to run again.
func (c *clearance) applyAmendment(ctx workflow.Context, a Amendment, review bool) {
	before := c.decl.CategoryList()
	c.decl = amended(c.decl, a)
	c.AmendedScope = &AmendedScope{
		Lines: len(a.Lines)+len(a.RemoveLines) > 0, Documents: len(a.Documents) > 0, Certificates: len(a.Certificates) > 0,
		Review: review,
	}
	if after := c.decl.CategoryList(); !slices.Equal(before, after) {
		// Officers' queues filter on the product categories.
		if err := workflow.UpsertTypedSearchAttributes(ctx, ProductCategoriesKey.ValueSet(after)); err != nil {
			workflow.GetLogger(ctx).Warn("upsert product categories failed", "declarationID", c.decl.ID, "error", err)
		}
	}
	c.enter(ctx, PhaseAmended)
}

// validateDecideAmendmentUpdate is the validator of the update "decide-amendment".
func (c *clearance) validateDecideAmendmentUpdate(raw json.RawMessage, caller *Principal) error {
	return validateAs(raw, "amendment decision", func(d AmendmentDecision) error {
		if caller != nil && d.Officer == "" {
			d.Officer = caller.Subject
		}
		if err := callerIs(d.Officer, caller); err != nil {
			return err
		}
		if err := c.admit(UpdateDecideAmendment); err != nil {
			return err
		}
		p := c.awaitingConsent()
		if p == nil {
			return fmt.Errorf("amendment: no amendment awaits consent")
		}
		if d.Amendment != p.Version {
			return fmt.Errorf("amendment: %d is not the amendment that awaits consent, %d", d.Amendment, p.Version)
		}
		if err := c.mayDecide(d.Officer, c.Stage); err != nil {
			return err
		}
		if err := c.claimRefusal(Decision{Officer: d.Officer, Stage: c.Stage}); err != nil {
			return err
		}
		switch d.Outcome {
		case AmendmentConsent:
		case AmendmentRefuse:
			if strings.TrimSpace(d.Reason) == "" {
				return fmt.Errorf("reason: required to refuse an amendment; the exporter is told it")
			}
		default:
			return fmt.Errorf("outcome: %q is not consent or refuse", clip(d.Outcome, MaxRequestedBytes))
		}
		return text("reason", d.Reason, MaxReasonBytes, true)
	})
}

// decideAmendment applies an officer's consent or refusal and tells the exporter.
func (c *clearance) decideAmendment(ctx workflow.Context, d AmendmentDecision) AmendmentRecord {
	now := workflow.Now(ctx)
	rec := c.awaitingConsent()
	a := *c.ProposedAmendment
	c.ProposedAmendment = nil
	rec.Officer, rec.DecidedAt, rec.DecisionReason = d.Officer, &now, d.Reason
	msg := fmt.Sprintf("Declaration %s: amendment %d ", c.decl.ID, rec.Version)
	if d.Outcome == AmendmentConsent {
		rec.Status = AmendmentApplied
		msg += "accepted by the officer; the checks run again on the amended declaration"
		c.applyAmendment(ctx, a, true)
	} else {
		rec.Status = AmendmentRefused
		msg += "refused: " + d.Reason
		workflow.SetCurrentDetails(ctx, c.details(now))
	}
	out := *rec
	workflow.GetLogger(ctx).Info("amendment decided", "declarationID", c.decl.ID, "amendment", out.Version,
		"officer", d.Officer, "outcome", d.Outcome)
	c.notify(ctx, activities.Notification{Kind: activities.NotifyAmendment, Message: msg})
	return out
}

// recheckAmended runs again the checks of the stages before stage that the applied amendment
// bears on (lines: every check; documents: the document check; certificates: the certification
// check). It returns a refusal by rule, if one is found. The stage's own checks run next; what
// these found is weighed at the stage (rechecksToWeigh).
func (c *clearance) recheckAmended(ctx workflow.Context, stage policy.Stage) (string, error) {
	scope := c.AmendedScope
	c.AmendedScope = nil
	if scope == nil {
		return "", nil
	}
	c.permitsFollow(ctx, *scope)
	rec := &c.Amendments[len(c.Amendments)-1]
	for _, s := range c.path() {
		if s == stage {
			break
		}
		bears := scope.Lines || (s == policy.StageDocumentCheck && scope.Documents) ||
			(s == policy.StageCertificationCheck && scope.Certificates)
		if !bears || activities.CheckActivity(s) == "" {
			continue
		}
		res, refusal, err := c.checkAs(ctx, s, RecheckSummaryPrefix)
		if err != nil {
			return "", err
		}
		rec.Rechecked = append(rec.Rechecked, s)
		if res != nil {
			c.Findings = append(c.Findings, StageFindings{Stage: s, Result: *res, Recheck: true})
		}
		if refusal != "" {
			return refusal, nil
		}
	}
	return "", nil
}

// attachmentProblems lists what is missing from documents and certificates an exporter sends.
func attachmentProblems(docs []declaration.Document, certs []declaration.Certificate) []string {
	var problems []string
	for i, d := range docs {
		if d.Type == "" {
			problems = append(problems, fmt.Sprintf("documents[%d].type: missing", i))
		}
		if strings.TrimSpace(d.Reference) == "" {
			problems = append(problems, fmt.Sprintf("documents[%d].reference: missing", i))
		}
	}
	for i, ct := range certs {
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
	return problems
}
