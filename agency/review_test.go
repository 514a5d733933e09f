package agency

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

var asked = time.Date(2020, 4, 16, 9, 0, 0, 0, time.UTC)

// reviewHarness runs AgencyReview in the SDK's test environment, its checks a stand-in.
type reviewHarness struct {
	testsuite.WorkflowTestSuite
	t       *testing.T
	env     *testsuite.TestWorkflowEnvironment
	check   CheckResult
	refused []error
	taken   []DecisionRecord
}

func newReviewHarness(t *testing.T, findings ...Finding) *reviewHarness {
	h := &reviewHarness{t: t, check: CheckResult{Findings: findings, Officers: []string{"nmpa-gao", "nmpa-tang"},
		Validity: 90 * 24 * time.Hour, ValidUntil: time.Date(2030, 3, 17, 23, 59, 59, 0, time.UTC)}}
	h.SetLogger(testLogger(t))
	h.env = h.NewTestWorkflowEnvironment()
	h.env.SetStartTime(asked)
	h.env.RegisterWorkflowWithOptions(AgencyReview, workflow.RegisterOptions{Name: WorkflowName})
	h.env.RegisterActivityWithOptions(func(_ context.Context, in CheckInput) (CheckResult, error) {
		if in.Request.Agency != NMPA || !in.On.Equal(asked) {
			t.Errorf("checks asked for %s on %s", in.Request.Agency, in.On)
		}
		return h.check, nil
	}, activity.RegisterOptions{Name: ActivityChecks})
	return h
}

// decide sends an officer's decision after d.
func (h *reviewHarness) decide(after time.Duration, d any) {
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(UpdateDecide, "", &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { h.refused = append(h.refused, err) },
			OnComplete: func(v any, err error) {
				if rec, ok := v.(DecisionRecord); ok && err == nil {
					h.taken = append(h.taken, rec)
				}
			},
		}, d)
	}, after)
}

func (h *reviewHarness) run(req PermitRequest) (PermitResult, error) {
	h.env.ExecuteWorkflow(WorkflowName, req)
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("the review did not end")
	}
	var res PermitResult
	err := h.env.GetWorkflowError()
	if err == nil {
		err = h.env.GetWorkflowResult(&res)
	}
	return res, err
}

func TestReviewGrantsByRuleWhenTheChecksFindNothing(t *testing.T) {
	h := newReviewHarness(t)
	req := request(t, NMPA, testKits(t))
	res, err := h.run(req)
	if err != nil {
		t.Fatal(err)
	}
	want := PermitResult{Agency: NMPA, RequestID: req.RequestID, Disposition: Granted, Permit: PermitNumber(NMPA, req.RequestID, asked),
		ValidUntil: asked.Add(90 * 24 * time.Hour), Decided: asked}
	if res.Disposition != want.Disposition || res.Permit != want.Permit || !res.ValidUntil.Equal(want.ValidUntil) ||
		!res.Decided.Equal(want.Decided) || res.Officer != "" {
		t.Fatalf("result %+v, want %+v", res, want)
	}
}

func TestReviewPermitEndsWithTheRegistrationItRestsOn(t *testing.T) {
	h := newReviewHarness(t)
	h.check.ValidUntil = asked.Add(10 * 24 * time.Hour)
	res, err := h.run(request(t, NMPA, testKits(t)))
	if err != nil {
		t.Fatal(err)
	}
	if !res.ValidUntil.Equal(h.check.ValidUntil) {
		t.Fatalf("valid until %s, want %s, when the registration expires", res.ValidUntil, h.check.ValidUntil)
	}
}

func TestReviewWaitsForAnOfficerWhenTheChecksFindSomething(t *testing.T) {
	h := newReviewHarness(t, Finding{Code: "no-registration", Line: "1", Field: "certificates", Message: "line 1: none"})
	h.decide(time.Hour, Decision{Officer: "samr-lin", Outcome: OutcomeGrant, Reason: "r"})
	h.decide(2*time.Hour, Decision{Officer: "nmpa-gao", Outcome: OutcomeGrant, Reason: "seen on the register"})
	h.decide(3*time.Hour, Decision{Officer: "nmpa-tang", Outcome: OutcomeRefuse, Reason: "too late"})
	req := request(t, NMPA, testKits(t))
	res, err := h.run(req)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.refused) != 1 || !strings.Contains(h.refused[0].Error(), "an officer decides only in their own agency") {
		t.Fatalf("refused %v: want the other agency's officer refused, and nothing else until the decision", h.refused)
	}
	if len(h.taken) != 1 || h.taken[0].Officer != "nmpa-gao" || h.taken[0].Verified {
		t.Fatalf("decisions taken %+v: want nmpa-gao's, unverified", h.taken)
	}
	decided := asked.Add(2 * time.Hour)
	if res.Disposition != Granted || res.Officer != "nmpa-gao" || res.Reason != "seen on the register" || !res.Decided.Equal(decided) ||
		res.Permit != PermitNumber(NMPA, req.RequestID, decided) || len(res.Findings) != 1 {
		t.Fatalf("result %+v: want nmpa-gao's grant with the finding weighed", res)
	}
}

func TestReviewEndsWithTheOfficersRefusalOrRequest(t *testing.T) {
	for outcome, want := range map[string]Disposition{OutcomeRefuse: Refused, OutcomeRequestInformation: InformationNeeded} {
		h := newReviewHarness(t, Finding{Code: "no-registration", Line: "1", Message: "none"})
		d := Decision{Officer: "nmpa-tang", Outcome: outcome, Reason: "the registration is not the manufacturer's"}
		if outcome == OutcomeRequestInformation {
			d.Requested = []string{"registration-certificate"}
		}
		h.decide(time.Minute, d)
		res, err := h.run(request(t, NMPA, testKits(t)))
		if err != nil {
			t.Fatal(err)
		}
		if res.Disposition != want || res.Permit != "" || res.Reason != d.Reason || res.Officer != "nmpa-tang" ||
			strings.Join(res.Requested, ",") != strings.Join(d.Requested, ",") {
			t.Errorf("%s: result %+v, want %s", outcome, res, want)
		}
	}
}

func TestReviewCancelledByCustoms(t *testing.T) {
	h := newReviewHarness(t, Finding{Code: "no-registration", Line: "1", Message: "none"})
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, time.Hour)
	h.decide(2*time.Hour, Decision{Officer: "nmpa-gao", Outcome: OutcomeGrant, Reason: "late"})
	_, err := h.run(request(t, NMPA, testKits(t)))
	var canceled *temporal.CanceledError
	if !errors.As(err, &canceled) {
		t.Fatalf("the review ended %v, want cancelled", err)
	}
	if len(h.taken) != 0 {
		t.Errorf("a cancelled review took %+v", h.taken)
	}
}

func TestReviewRefusesAnInvalidRequest(t *testing.T) {
	h := newReviewHarness(t)
	req := request(t, NMPA, testKits(t))
	req.Reason = ""
	_, err := h.run(req)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != ErrInvalidRequest || !strings.Contains(err.Error(), "reason: missing") {
		t.Fatalf("the review ended %v, want %s naming the reason", err, ErrInvalidRequest)
	}
}

// awaiting is a review awaiting an NMPA officer's decision, as the validator sees it.
func awaiting() *review {
	return &review{req: PermitRequest{Agency: NMPA}, status: Status{Agency: NMPA, Phase: PhaseAwaitingOfficer},
		check: CheckResult{Officers: []string{"nmpa-gao", "nmpa-tang"}, Findings: []Finding{{Code: "no-registration"}}}}
}

func TestDecisionValidatorRefusesWithTheReason(t *testing.T) {
	grant := `{"officer":"nmpa-gao","outcome":"grant","reason":"seen"}`
	long := strings.Repeat("r", MaxReasonBytes+1)
	many := `"` + strings.Repeat(`d","`, MaxRequested) + `d"`
	cases := map[string]struct {
		raw    string
		caller *Principal
		phase  Phase
		want   string
	}{
		"too large":                       {raw: `{"reason":"` + strings.Repeat("x", MaxPayloadBytes) + `"}`, want: "larger than the"},
		"not JSON":                        {raw: `grant`, want: "malformed permit decision"},
		"an unknown field":                {raw: `{"officer":"nmpa-gao","outcome":"grant","reason":"r","permit":"X"}`, want: `unknown field "permit"`},
		"data after the object":           {raw: grant + `{}`, want: "data after the JSON object"},
		"another officer than the caller": {raw: grant, caller: &Principal{Subject: "nmpa-tang", Agency: NMPA}, want: `officer: "nmpa-gao" is not the caller`},
		"while checking":                  {raw: grant, phase: PhaseChecking, want: "not awaiting an officer's decision (it is checking"},
		"once decided":                    {raw: grant, phase: PhaseDecided, want: "not awaiting an officer's decision (it is decided"},
		"once ended":                      {raw: grant, phase: PhaseEnded, want: "not awaiting an officer's decision (it is ended"},
		"no officer":                      {raw: `{"outcome":"grant","reason":"r"}`, want: "officer: missing"},
		"an officer of another agency":    {raw: `{"officer":"samr-lin","outcome":"grant","reason":"r"}`, want: "only in their own agency"},
		"an unknown outcome":              {raw: `{"officer":"nmpa-gao","outcome":"approve","reason":"r"}`, want: `outcome: "approve" is not grant`},
		"no reason":                       {raw: `{"officer":"nmpa-gao","outcome":"grant"}`, want: "reason: required to grant"},
		"a blank reason":                  {raw: `{"officer":"nmpa-gao","outcome":"refuse","reason":"  "}`, want: "reason: required to refuse"},
		"a reason too long":               {raw: `{"officer":"nmpa-gao","outcome":"refuse","reason":"` + long + `"}`, want: "reason: 4097 bytes"},
		"a reason with a control":         {raw: `{"officer":"nmpa-gao","outcome":"refuse","reason":"a\u0007"}`, want: "reason: holds the control character"},
		"a request without documents":     {raw: `{"officer":"nmpa-gao","outcome":"request-information","reason":"r"}`, want: "requested: name the documents"},
		"documents with a grant":          {raw: `{"officer":"nmpa-gao","outcome":"grant","reason":"r","requested":["x"]}`, want: "only a request for information"},
		"too many documents":              {raw: `{"officer":"nmpa-gao","outcome":"request-information","reason":"r","requested":[` + many + `]}`, want: "more than the 20"},
		"a blank document":                {raw: `{"officer":"nmpa-gao","outcome":"request-information","reason":"r","requested":[" "]}`, want: "requested[0]: blank"},
		"a document too long":             {raw: `{"officer":"nmpa-gao","outcome":"request-information","reason":"r","requested":["` + strings.Repeat("d", MaxRequestedBytes+1) + `"]}`, want: "requested[0]: 201 bytes"},
		"a document with a control":       {raw: `{"officer":"nmpa-gao","outcome":"request-information","reason":"r","requested":["a\u202eb"]}`, want: "requested[0]: holds"},
	}
	for name, c := range cases {
		r := awaiting()
		if c.phase != "" {
			r.status.Phase = c.phase
		}
		err := r.validate(json.RawMessage(c.raw), c.caller)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	r := awaiting()
	r.status.Decision = &DecisionRecord{}
	if err := r.validate(json.RawMessage(grant), nil); err == nil || !strings.Contains(err.Error(), "not awaiting") {
		t.Errorf("a second decision: %v", err)
	}
}

// TestDecisionValidatorRefusesACallerOfAnotherAgency: on a cluster that verifies its callers, the
// caller's agency is the token's agency claim; a caller signed in for another agency, or for
// none, is refused with the reason before the roster is asked, even under an ID on this
// agency's roster and whatever the review's phase.
func TestDecisionValidatorRefusesACallerOfAnotherAgency(t *testing.T) {
	grant := `{"officer":"nmpa-gao","outcome":"grant","reason":"seen"}`
	for name, c := range map[string]struct {
		raw    string
		caller Principal
		phase  Phase
		want   string
	}{
		"an officer of another agency": {raw: `{"outcome":"grant","reason":"r"}`, caller: Principal{Subject: "samr-lin", Roles: []string{"officer"}, Agency: SAMR},
			want: `caller: "samr-lin" works for SAMR, and this review is NMPA's: an agency officer decides only in their own agency`},
		"another agency's caller under an ID on the roster": {raw: grant, caller: Principal{Subject: "nmpa-gao", Roles: []string{"officer"}, Agency: SAMR},
			want: `caller: "nmpa-gao" works for SAMR, and this review is NMPA's`},
		"a caller of no agency under an ID on the roster": {raw: grant, caller: Principal{Subject: "nmpa-gao", Roles: []string{"officer"}},
			want: `caller: "nmpa-gao" works for no agency, and this review is NMPA's`},
		"an agency's name in another case": {raw: grant, caller: Principal{Subject: "nmpa-gao", Agency: "nmpa"},
			want: `caller: "nmpa-gao" works for nmpa, and this review is NMPA's`},
		"another agency's caller, once ended": {raw: grant, caller: Principal{Subject: "samr-lin", Agency: SAMR}, phase: PhaseEnded,
			want: `caller: "samr-lin" works for SAMR`},
	} {
		r := awaiting()
		if c.phase != "" {
			r.status.Phase = c.phase
		}
		caller := c.caller
		err := r.validate(json.RawMessage(c.raw), &caller)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	// The same officer signed in for this agency decides.
	if err := awaiting().validate(json.RawMessage(grant), &Principal{Subject: "nmpa-gao", Roles: []string{"officer"}, Agency: NMPA}); err != nil {
		t.Errorf("nmpa-gao signed in for NMPA: %v", err)
	}
}

func TestDecisionValidatorTakesAnOfficerOfTheAgency(t *testing.T) {
	for name, c := range map[string]struct {
		raw    string
		caller *Principal
	}{
		"without authentication":      {raw: `{"officer":"nmpa-gao","outcome":"grant","reason":"seen"}`},
		"the caller as the officer":   {raw: `{"outcome":"refuse","reason":"r"}`, caller: &Principal{Subject: "nmpa-tang", Roles: []string{"officer"}, Agency: NMPA}},
		"the caller naming themself":  {raw: `{"officer":"nmpa-tang","outcome":"refuse","reason":"r"}`, caller: &Principal{Subject: "nmpa-tang", Agency: NMPA}},
		"a request for two documents": {raw: `{"officer":"nmpa-gao","outcome":"request-information","reason":"r","requested":["a","b"]}`},
	} {
		if err := awaiting().validate(json.RawMessage(c.raw), c.caller); err != nil {
			t.Errorf("%s: refused: %v", name, err)
		}
	}
}
