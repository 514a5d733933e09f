package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/policy"
)

// The single window: where the policy says a line needs a partner agency's permit (NMPA's
// registration certificate of a device or test kit, the market regulator's white list of
// qualified producers), the clearance asks the agency through its Nexus endpoint as soon as the
// declaration is accepted, and goes on with its own stages meanwhile. The agency decides in its
// own namespace (agency.AgencyReview, with its checks and officers); customs waits durably for the
// disposition. The release stage does not begin before every agency has granted its permit; an
// agency's refusal ends the clearance refused, naming the agency, whenever it comes.
const (
	// PhaseAwaitingAgency: the release waits for partner agencies' dispositions.
	PhaseAwaitingAgency Phase = "awaiting-agency"
	// PhaseAwaitingAgencyInformation: the release waits for the exporter's answer to a partner
	// agency's request for more information (ChangeAgencyInformationAwaitsTheExporter).
	PhaseAwaitingAgencyInformation Phase = "awaiting-agency-information"
	// StateAwaitingAgency is the ClearanceStatus of a clearance whose release waits for agencies.
	StateAwaitingAgency State = "awaiting-agency"
	// WaitingForAgency is Waiting.For while agencies are awaited.
	WaitingForAgency = "agency-permit"
	// ViaAgency is how an agency's disposition reaches the clearance: through the single window.
	ViaAgency Via = "single-window"
	// MaxPermits bounds the permit requests one clearance makes: a request asked again after an
	// upheld appeal or an agency's request for information counts anew.
	MaxPermits = 2 * policy.MaxAgencyRules
)

// PermitRecord is one permit request the clearance made of a partner agency through the single
// window, and the agency's disposition once it came.
type PermitRecord struct {
	Agency string `json:"agency"`
	// RequestID identifies the request: the agency reviews each once, whoever asks again.
	RequestID string    `json:"requestId"`
	Lines     []string  `json:"lines"`
	Reason    string    `json:"reason"`
	Asked     time.Time `json:"asked"`
	// Result is the agency's disposition, once it came.
	Result *agency.PermitResult `json:"result,omitempty"`
	// Waited is how long the clearance waited on the agency alone, its release held for it: the
	// agency's time, as the WCO Time Release Study counts it. Waits are the stretches it is made
	// of (none in the records of earlier clearances, which keep Waited only).
	Waited policy.Duration `json:"waited,omitempty"`
	Waits  []Stretch       `json:"waits,omitempty"`
	// Answered is when the agency's answer reached the clearance.
	Answered time.Time `json:"answered,omitempty"`
	// Withdrawn says the clearance withdrew the request unanswered: as it ended, or because an
	// amendment made the request stale.
	Withdrawn bool `json:"withdrawn,omitempty"`
	// Superseded says an amendment replaced the request: by a request of the amended declaration,
	// or by none when no line needs the agency any more.
	Superseded bool `json:"superseded,omitempty"`
	// InformationDue is the exporter's deadline to answer the agency's request for more
	// information (the disposition information-needed), set when the release first waits for
	// the answer; the clearance lapses when it passes unanswered. ExporterWait is how long the
	// release waited for that answer: trader time, as the WCO Time Release Study counts it (kept
	// on the first of the requests one answer served).
	InformationDue time.Time       `json:"informationDue,omitempty"`
	ExporterWait   policy.Duration `json:"exporterWait,omitempty"`
}

// Stretch is a stretch of time, From until Until.
type Stretch struct {
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
}

// pending reports whether the agency has not answered the request yet, and it stands.
func (p PermitRecord) pending() bool { return p.Result == nil && !p.Withdrawn && !p.Superseded }

// latestPermits lists, for each agency asked, the index of its latest request.
func (c *clearance) latestPermits() []int {
	var out []int
	for i, p := range c.Permits {
		latest := true
		for _, q := range c.Permits[i+1:] {
			latest = latest && q.Agency != p.Agency
		}
		if latest {
			out = append(out, i)
		}
	}
	return out
}

// askAnew asks agency again, as a new request: after its refusal was appealed, after it needed
// more information, or after the request was withdrawn as an earlier run ended.
func (c *clearance) askAnew(ctx workflow.Context, p PermitRecord) {
	if len(c.Permits) >= MaxPermits {
		return
	}
	c.Permits = append(c.Permits, PermitRecord{Agency: p.Agency, Lines: p.Lines, Reason: p.Reason})
	c.askAgency(ctx, len(c.Permits)-1, true)
}

// permitsAwaited lists the agencies whose disposition is still awaited.
func (c *clearance) permitsAwaited() []string {
	var out []string
	for _, p := range c.Permits {
		if p.pending() {
			out = append(out, p.Agency)
		}
	}
	return out
}

// askAgencies asks, once the declaration is accepted, every agency whose permit the policy says a
// line needs. A clearance whose lines need none asks nothing and records nothing.
func (c *clearance) askAgencies(ctx workflow.Context) {
	var asks []PermitRecord
	for _, r := range c.Configuration.Policy.SingleWindow {
		if lines := r.Lines(c.decl); len(lines) > 0 {
			asks = append(asks, PermitRecord{Agency: r.Agency, Lines: lines, Reason: r.Reason})
		}
	}
	if len(asks) == 0 || c.withdrawal != nil || !c.rel.singleWindow(ctx) {
		return
	}
	for _, p := range asks {
		c.Permits = append(c.Permits, p)
		c.askAgency(ctx, len(c.Permits)-1, true)
	}
}

// askAgency asks permit request i of its agency through the agency's Nexus endpoint, in a
// coroutine of its own that records the disposition when it comes. fresh makes it a new request;
// otherwise the same request is asked again (after a continue-as-new), and the agency's review of
// it goes on. A request the agency's endpoint cannot take (the agency's systems are away) is asked
// again, with backoff, as long as the clearance waits: the clearance waits with it.
func (c *clearance) askAgency(ctx workflow.Context, i int, fresh bool) {
	p := &c.Permits[i]
	if fresh {
		n := 0
		for _, q := range c.Permits {
			if q.Agency == p.Agency {
				n++
			}
		}
		p.RequestID = fmt.Sprintf("%s/%s/%d", workflow.GetInfo(ctx).WorkflowExecution.ID, p.Agency, n)
		p.Asked, p.Result, p.Answered, p.Waited = workflow.Now(ctx), nil, time.Time{}, 0
	}
	req := agency.PermitRequest{Agency: p.Agency, RequestID: p.RequestID, ClearanceID: workflow.GetInfo(ctx).WorkflowExecution.ID,
		Declaration: c.decl, Lines: p.Lines, Reason: p.Reason}
	octx, cancel := workflow.WithCancel(ctx)
	call := &permitCall{cancel: cancel}
	c.permitCalls[p.RequestID] = call
	id := p.RequestID
	workflow.GetLogger(ctx).Info("asking a partner agency", "declarationID", c.decl.ID, "agency", p.Agency, "request", id)
	workflow.Go(octx, func(gctx workflow.Context) {
		nc := workflow.NewNexusClient(agency.EndpointName(req.Agency), agency.ServiceName)
		for wait := time.Minute; ; wait = min(2*wait, time.Hour) {
			var res agency.PermitResult
			call.answer = nc.ExecuteOperation(gctx, agency.OperationReview, req, workflow.NexusOperationOptions{
				// An agency that has not answered by then is asked again: the same request, whose
				// review goes on.
				ScheduleToCloseTimeout: permitTimeout,
				// The agency has the clearance's withdrawal of the request before the clearance ends.
				CancellationType: workflow.NexusOperationCancellationTypeWaitRequested,
				Summary:          fmt.Sprintf("Ask %s for its permit (lines %s)", req.Agency, strings.Join(req.Lines, ", ")),
			})
			err := call.answer.Get(gctx, &res)
			var canceled *temporal.CanceledError
			if gctx.Err() != nil || (errors.As(err, &canceled) && !c.rel.agencyCancelAsksAgain(gctx)) {
				delete(c.permitCalls, id)
				return // the clearance withdrew the request as it ended
			}
			// A review the agency cancelled itself answers nothing: the request is asked again
			// below, and the agency starts a new review of it (ChangeAgencyCancelAsksAgain).
			if err == nil {
				err = checkPermit(req, res)
			}
			if err == nil {
				// The answer is the clearance's from here: carried out in its own context, which
				// the request's withdrawal does not cancel.
				delete(c.permitCalls, id)
				dctx, _ := workflow.NewDisconnectedContext(gctx)
				c.permitAnswered(dctx, id, res)
				return
			}
			workflow.GetLogger(gctx).Warn("the agency's single window did not answer; asking again", "declarationID", c.decl.ID,
				"agency", req.Agency, "request", id, "error", err, "in", wait)
			if err := workflow.Sleep(gctx, wait); err != nil {
				delete(c.permitCalls, id)
				return
			}
		}
	})
}

// permitTimeout is how long the clearance waits on one asking of a permit request before it asks
// again.
const permitTimeout = 30 * 24 * time.Hour

// checkPermit refuses an answer that is not a disposition of req.
func checkPermit(req agency.PermitRequest, res agency.PermitResult) error {
	switch {
	case res.Agency != req.Agency || res.RequestID != req.RequestID:
		return fmt.Errorf("the answer is %s's to request %q, not %s's to %q", res.Agency, res.RequestID, req.Agency, req.RequestID)
	case res.Disposition != agency.Granted && res.Disposition != agency.Refused && res.Disposition != agency.InformationNeeded:
		return fmt.Errorf("disposition: %q is not granted, refused or information-needed", res.Disposition)
	case res.Disposition == agency.Granted && res.Permit == "":
		return fmt.Errorf("permit: a grant names no permit")
	case res.Disposition != agency.Granted && strings.TrimSpace(res.Reason) == "":
		return fmt.Errorf("reason: a %s answer says no reason", res.Disposition)
	case len(res.Reason) > MaxReasonBytes || len(res.Permit) > MaxRequestedBytes || len(res.Officer) > MaxRequestedBytes ||
		len(res.Requested) > MaxRequested:
		return fmt.Errorf("the answer is over its bounds")
	}
	return nil
}

// permitAnswered records the agency's disposition of request id and carries it out: a grant lets
// the release wait for the others; a refusal ends the clearance refused, naming the agency.
func (c *clearance) permitAnswered(ctx workflow.Context, id string, res agency.PermitResult) {
	i := -1
	for j, p := range c.Permits {
		if p.RequestID == id {
			i = j
		}
	}
	if i < 0 || !c.Permits[i].pending() {
		return
	}
	c.Permits[i].Result, c.Permits[i].Answered = &res, workflow.Now(ctx)
	workflow.GetLogger(ctx).Info("a partner agency answered", "declarationID", c.decl.ID, "agency", res.Agency,
		"disposition", res.Disposition, "permit", res.Permit)
	switch res.Disposition {
	case agency.Refused:
		// A clearance whose outcome is already fixed (it ends, or an officer's refusal awaits being
		// carried out) keeps it; the agency's answer is on its record all the same.
		fixed := c.phase == PhaseEnded || c.phase == PhaseEnding || c.phase == PhaseReleasing || c.withdrawal != nil ||
			(c.phase == PhaseDecided && c.pending != nil && c.pending.Outcome == OutcomeReject)
		if !fixed {
			c.refuseForAgency(ctx, res.Agency, res.Officer, res.Reason, ViaAgency, false)
		}
	case agency.InformationNeeded:
		// Under ChangeAgencyInformationAwaitsTheExporter a release waiting for agencies turns to
		// the exporter at once (asking), whoever else it waits for.
		c.rel.agencyInformationAwaitsTheExporter(ctx)
		c.notify(ctx, activities.Notification{Kind: activities.NotifyInformationRequest,
			Message: fmt.Sprintf("Declaration %s: %s needs more information for its permit: %s (%s)", c.decl.ID, res.Agency,
				res.Reason, strings.Join(res.Requested, ", "))})
	}
	workflow.SetCurrentDetails(ctx, c.details(workflow.Now(ctx)))
}

// awaitAgencies waits, before the release stage begins, until every agency asked has answered.
// An agency that refused in an earlier run of a clearance reopened on appeal is asked again; one
// that needed more information is asked again on the exporter's answer
// (ChangeAgencyInformationAwaitsTheExporter; at once in the earlier release). It says why the wait
// ended: every agency answered (wokeAnswered), the exporter withdrew or an agency refused
// (wokeWithdrawn), the exporter left an agency's request for information unanswered and the
// clearance lapses (wokeTimedOut), or the history grew long (wokeHistoryLong).
func (c *clearance) awaitAgencies(ctx workflow.Context) (woke, error) {
	was := c.phase
	for {
		if c.withdrawal != nil {
			return wokeWithdrawn, nil // nothing more is asked of an agency for a clearance that ends
		}
		// An agency that needs more information waits for the exporter's answer; one that refused
		// before an upheld appeal, or whose request was withdrawn, is asked again.
		for _, i := range c.latestPermits() {
			p := c.Permits[i]
			switch {
			case p.Superseded:
			case p.Result != nil && p.Result.Disposition == agency.InformationNeeded && c.rel.agencyInformationAwaitsTheExporter(ctx):
			case p.Withdrawn || (p.Result != nil && p.Result.Disposition != agency.Granted):
				c.askAnew(ctx, p)
			}
		}
		asking := c.asking()
		if a := c.permitUnobtainable(asking); a != "" && c.rel.permitsFollowAmendments(ctx) {
			c.refuseForAgency(ctx, a, "", fmt.Sprintf("no permit after the %d requests a clearance makes", MaxPermits), ViaAgency, false)
			return wokeWithdrawn, nil
		}
		if len(asking) > 0 {
			switch w, err := c.awaitAgencyInformation(ctx, asking); {
			case err != nil:
				return 0, err
			case w == wokeSupplied:
				// The agencies review the declaration with the exporter's documents: new requests.
				for _, i := range asking {
					c.askAnew(ctx, c.Permits[i])
				}
				continue
			case w == wokeWithdrawn, w == wokeTimedOut:
				return w, nil
			}
			continue
		}
		awaited := c.permitsAwaited()
		if len(awaited) == 0 {
			if c.phase == PhaseAwaitingAgency {
				c.enter(ctx, was)
			}
			return wokeAnswered, nil
		}
		since := workflow.Now(ctx)
		c.waiting = &Waiting{For: WaitingForAgency, Agencies: awaited, Since: since}
		if err := c.setState(ctx, StateAwaitingAgency); err != nil {
			return 0, err
		}
		c.enter(ctx, PhaseAwaitingAgency)
		w, err := c.await(ctx, wait{answered: true, continues: func(workflow.Context) bool { return true }})
		if err != nil {
			return 0, err
		}
		now := workflow.Now(ctx)
		for i := range c.Permits {
			p := &c.Permits[i]
			from, until := since, now
			if p.Asked.After(from) {
				from = p.Asked
			}
			if !p.Answered.IsZero() && p.Answered.Before(until) {
				until = p.Answered
			}
			// A request is not waited for once the next one of its agency is asked: that one
			// superseded it, or asked again after its answer.
			if next := c.nextAsked(i); !next.IsZero() && next.Before(until) {
				until = next
			}
			if until.After(from) {
				p.Waited += policy.Duration(until.Sub(from))
				if n := len(p.Waits); n > 0 && p.Waits[n-1].Until.Equal(from) {
					p.Waits[n-1].Until = until
				} else {
					p.Waits = append(p.Waits, Stretch{From: from, Until: until})
				}
			}
		}
		c.waiting = nil
		if w != wokeAnswered {
			return w, nil
		}
	}
}

// asking lists the indices of the agencies' latest requests that stand answered with a need for
// more information, which the exporter answers (ChangeAgencyInformationAwaitsTheExporter, as this
// run answered it): none when the clearance cannot ask them all again within MaxPermits, whose
// agencies then cannot grant (permitUnobtainable). It reads state only, so a wait may ask it.
func (c *clearance) asking() []int {
	if on := c.rel.agencyInformation; on == nil || !*on {
		return nil
	}
	var out []int
	for _, i := range c.latestPermits() {
		if p := c.Permits[i]; !p.Superseded && p.Result != nil && p.Result.Disposition == agency.InformationNeeded {
			out = append(out, i)
		}
	}
	if len(c.Permits)+len(out) > MaxPermits {
		return nil
	}
	return out
}

// informationOutstanding reports whether an agency's latest request stands answered with a need
// for more information that the release waits for (ChangeAgencyInformationAwaitsTheExporter).
func (c *clearance) informationOutstanding(ctx workflow.Context) bool {
	return c.needsInformation() && c.rel.agencyInformationAwaitsTheExporter(ctx)
}

// needsInformation reports whether an agency's latest request stands answered with a need for more
// information. It reads state only.
func (c *clearance) needsInformation() bool {
	for _, i := range c.latestPermits() {
		if p := c.Permits[i]; !p.Superseded && p.Result != nil && p.Result.Disposition == agency.InformationNeeded {
			return true
		}
	}
	return false
}

// awaitAgencyInformation waits for the exporter's answer to the requests for more information of
// the agencies whose latest requests are at the indices asking, until the earliest of their
// deadlines: InformationDue, set from the moment the release first waits for the answer and
// kept across runs. The time it waits is the exporter's (the first asking request's
// ExporterWait); the standard's clock runs on, as it does while agencies decide. It says why the
// wait ended: the answer (wokeSupplied), a withdrawal or an agency's refusal (wokeWithdrawn), or
// the deadline (wokeTimedOut), on which the clearance lapses.
func (c *clearance) awaitAgencyInformation(ctx workflow.Context, asking []int) (woke, error) {
	pol := c.Configuration.Policy
	since := workflow.Now(ctx)
	w := &Waiting{For: WaitingForExporter, Exporter: c.decl.Exporter.Code, Since: since}
	var reasons []string
	for _, i := range asking {
		p := &c.Permits[i]
		if p.InformationDue.IsZero() {
			p.InformationDue = since.Add(pol.InformationDeadline.D())
			if pol.Calendar.BusinessDays() {
				p.InformationDue = pol.Calendar.Due(since, pol.InformationDeadline.D())
			}
		}
		if w.Due.IsZero() || p.InformationDue.Before(w.Due) {
			w.Due = p.InformationDue
		}
		w.Agencies = append(w.Agencies, p.Agency)
		for _, r := range p.Result.Requested {
			if !slices.Contains(w.Requested, r) {
				w.Requested = append(w.Requested, r)
			}
		}
		reasons = append(reasons, p.Agency+": "+p.Result.Reason)
	}
	w.Reason = strings.Join(reasons, "; ")
	c.waiting = w
	if err := c.setState(ctx, StateAwaitingExporter); err != nil {
		return 0, err
	}
	c.enter(ctx, PhaseAwaitingAgencyInformation)
	agencies := strings.Join(w.Agencies, " and ")
	woke := wokeTimedOut
	if w.Due.After(since) {
		c.notify(ctx, activities.Notification{Kind: activities.NotifyInformationRequest, Due: w.Due,
			Message: fmt.Sprintf("Declaration %s: the release waits for the information %s needs for its permit: %s", c.decl.ID,
				agencies, w.Reason)})
		var err error
		woke, err = c.await(ctx, wait{phase: PhaseAwaitingAgencyInformation, timeout: w.Due.Sub(since),
			timer: ExporterDeadlineTimerSummary(pol.InformationDeadline, pol.Calendar.BusinessDays(), w.Due)})
		if err != nil {
			return 0, err
		}
	}
	c.Permits[asking[0]].ExporterWait += policy.Duration(workflow.Now(ctx).Sub(since))
	c.waiting = nil
	if woke == wokeTimedOut && c.withdrawal != nil {
		woke = wokeWithdrawn // a withdrawal or an agency's refusal came first
	}
	if woke == wokeTimedOut {
		c.reason = fmt.Sprintf("no answer to %s's request for information within %s", agencies, pol.InformationDeadline)
		c.enter(ctx, PhaseEnding)
		c.notify(ctx, activities.Notification{Kind: activities.NotifyLapsed,
			Message: fmt.Sprintf("Declaration %s lapsed: %s", c.decl.ID, c.reason)})
	}
	return woke, nil
}

// permitCall is a permit request this run is asking: its answer, once asked, and what withdraws it.
type permitCall struct {
	answer workflow.Future
	cancel workflow.CancelFunc
}

// permitsTaken reports whether every answer that has come is taken in: a run continues as new only
// then, so that no disposition is lost between the runs.
func (c *clearance) permitsTaken() bool {
	for _, p := range c.Permits {
		if call, ok := c.permitCalls[p.RequestID]; ok && call.answer != nil && call.answer.IsReady() {
			return false
		}
	}
	return true
}

// nextAsked is when the agency of the request at index i was next asked, zero when it was not.
func (c *clearance) nextAsked(i int) time.Time {
	for _, q := range c.Permits[i+1:] {
		if q.Agency == c.Permits[i].Agency {
			return q.Asked
		}
	}
	return time.Time{}
}

// withdrawPermits withdraws the requests the agencies have not answered, as the clearance ends,
// and waits until each agency has been told.
func (c *clearance) withdrawPermits(ctx workflow.Context) error {
	if len(c.permitCalls) == 0 {
		return nil
	}
	for i, p := range c.Permits {
		if call, ok := c.permitCalls[p.RequestID]; ok {
			// A request an amendment superseded was withdrawn then; it stays so.
			c.Permits[i].Withdrawn = p.Withdrawn || p.pending()
			call.cancel()
		}
	}
	return workflow.Await(ctx, func() bool { return len(c.permitCalls) == 0 })
}

// permitUnobtainable names an agency whose permit the release needs but that neither granted it
// nor has a request pending, and that cannot be asked again: the clearance has made MaxPermits
// requests. It returns "" when there is none. The requests at the indices asking await the
// exporter's answer, after which they are asked again.
func (c *clearance) permitUnobtainable(asking []int) string {
	for _, i := range c.latestPermits() {
		p := c.Permits[i]
		if !p.Superseded && !p.pending() && (p.Result == nil || p.Result.Disposition != agency.Granted) && !slices.Contains(asking, i) {
			return p.Agency
		}
	}
	return ""
}

// permitsFollow brings the permit requests in line with the amended declaration, as
// ChangePermitsFollowAmendments says, once an amendment of scope is applied.
func (c *clearance) permitsFollow(ctx workflow.Context, scope AmendedScope) {
	type ask struct {
		rule   policy.AgencyRule
		lines  []string
		latest int
	}
	var asks []ask
	for _, r := range c.Configuration.Policy.SingleWindow {
		lines := r.Lines(c.decl)
		latest := -1
		for _, i := range c.latestPermits() {
			if c.Permits[i].Agency == r.Agency {
				latest = i
			}
		}
		switch {
		case latest < 0 && len(lines) == 0:
		case latest < 0:
			asks = append(asks, ask{r, lines, latest})
		case c.Permits[latest].Superseded && len(lines) == 0:
		case len(lines) == 0, c.Permits[latest].Superseded, scope.Lines || scope.Certificates,
			!slices.Equal(lines, c.Permits[latest].Lines),
			c.Permits[latest].Result != nil && c.Permits[latest].Result.Disposition == agency.InformationNeeded:
			asks = append(asks, ask{r, lines, latest})
		}
	}
	if len(asks) == 0 || c.withdrawal != nil || !c.rel.singleWindow(ctx) || !c.rel.permitsFollowAmendments(ctx) {
		return
	}
	for _, a := range asks {
		if a.latest >= 0 {
			p := &c.Permits[a.latest]
			if p.pending() {
				p.Withdrawn = true
				if call, ok := c.permitCalls[p.RequestID]; ok {
					call.cancel()
				}
			}
			p.Superseded = true
		}
		if len(a.lines) == 0 || len(c.Permits) >= MaxPermits {
			continue
		}
		workflow.GetLogger(ctx).Info("the amended declaration goes to a partner agency", "declarationID", c.decl.ID,
			"agency", a.rule.Agency, "lines", a.lines)
		c.Permits = append(c.Permits, PermitRecord{Agency: a.rule.Agency, Lines: a.lines, Reason: a.rule.Reason})
		c.askAgency(ctx, len(c.Permits)-1, true)
	}
}

// askAgain asks again, in a run that takes the clearance up, the requests the agencies have not
// answered: the same requests after a continue-as-new (the agencies' reviews go on), new ones in
// a run an upheld appeal reopened (the earlier run withdrew them when it ended).
func (c *clearance) askAgain(ctx workflow.Context, fresh bool) {
	for _, i := range c.latestPermits() {
		if fresh {
			// The exporter's deadline to answer an agency's request for information runs anew from
			// when the reopened clearance's release waits for the answer.
			c.Permits[i].InformationDue = time.Time{}
		}
		switch p := c.Permits[i]; {
		case p.Superseded:
		case fresh && (p.pending() || p.Withdrawn):
			c.askAnew(ctx, p)
		case p.pending():
			c.askAgency(ctx, i, false)
		}
	}
}
