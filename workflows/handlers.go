package workflows

import (
	"encoding/json"
	"errors"
	"fmt"

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
			"answers a request for information: customs' (the stage's checks run again and the officer reviews the answer) "+
			"or, while the release waits for it, a partner agency's (the agency is asked again with the documents). "+
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
	if err := c.setupLodgement(ctx); err != nil {
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
			case c.phase == PhaseContinuing && len(s.raw) <= MaxHeldSignalBytes && len(c.HeldSignals) < MaxRefusedKept:
				// Sent while the clearance moves to its next run: taken up there, when it next
				// awaits an officer. A signal's sender cannot be told to try again. One too
				// large to carry, or beyond the number carried, is refused here, and recorded.
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

func (c *clearance) supply(ctx workflow.Context, s Supply) SupplyRecord {
	merge(&c.decl, s)
	rec := SupplyRecord{Stage: c.Stage, At: workflow.Now(ctx), Documents: len(s.Documents),
		Certificates: len(s.Certificates), Note: s.Note}
	next := PhaseSupplied
	if c.phase == PhaseAwaitingAgencyInformation && c.waiting != nil {
		// An agency's request: the release waits for the agency again, asked with the documents.
		rec.Agencies, next = append([]string(nil), c.waiting.Agencies...), PhaseAwaitingAgency
	}
	c.Supplies = append(c.Supplies, rec)
	c.enter(ctx, next)
	return rec
}
