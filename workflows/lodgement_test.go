package workflows

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
)

// lodgeOutcome is what the update "lodgement" came to: its answer, or why it was refused.
type lodgeOutcome struct {
	answer  *Lodgement
	refusal error
}

// lodge sends the update "lodgement" while the clearance starts (its lane selection is retried
// once, so that the update arrives while it is starting, as with its start); the outcome is
// filled in as the clearance runs.
func (h *harness) lodge(arg any) *lodgeOutcome {
	h.laneErrs = append(h.laneErrs, errors.New("trader registry unavailable"))
	out := &lodgeOutcome{}
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(UpdateLodgement, "lodgement", &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { out.refusal = err },
			OnComplete: func(v any, err error) {
				if err != nil {
					out.refusal = err
					return
				}
				l, ok := v.(Lodgement)
				if !ok {
					h.t.Errorf("the lodgement answered %T", v)
				}
				out.answer = &l
			},
		}, arg)
	}, 500*time.Millisecond)
	return out
}

// answered runs the clearance of d with a lodgement sent as it starts, and returns the answer.
func (h *harness) answered(d declaration.Declaration, arg any) (Lodgement, Result) {
	h.t.Helper()
	out := h.lodge(arg)
	r := h.run(d)
	require.NoError(h.t, out.refusal)
	require.NotNil(h.t, out.answer, "the lodgement was answered")
	return *out.answer, r
}

// TestLodgementAnswersTheOfficersWait: a yellow-lane declaration's lodgement answers once the
// document officer is awaited: accepted, its registration number, lane and why, its queue
// priority, and that a document officer decides next.
func TestLodgementAnswersTheOfficersWait(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.priority = policy.PriorityHigh
	h.decide(time.Hour, "d1", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeApprove})
	d := fixture()
	l, r := h.answered(d, LodgementRequest{DeclarationID: d.ID})

	require.Equal(t, StateReleased, r.State)
	require.True(t, l.Accepted)
	require.Equal(t, d.ID, l.DeclarationID)
	require.Equal(t, d.Exporter.Code, l.Exporter)
	require.NotNil(t, l.Registration)
	require.Equal(t, "ED-2020-00000001", l.Registration.Number)
	require.Equal(t, policy.LaneYellow, l.Lane)
	require.Equal(t, []string{"test"}, l.LaneReasons)
	require.Equal(t, policy.PriorityHigh, l.Priority)
	require.Equal(t, StateAwaitingOfficer, l.State)
	require.Equal(t, policy.StageDocumentCheck, l.Stage)
	require.NotNil(t, l.Waiting)
	require.Equal(t, policy.RoleDocument, l.Waiting.Role)
	require.Equal(t, "waiting for a document officer's decision on the document check, due 2020-04-03 09:00 UTC", l.Next)
	require.Equal(t, []string{UpdateAmend, UpdateWithdraw}, l.Accepts)
	require.Empty(t, l.Reason)
	require.False(t, l.RefusedAsLodged)
}

// TestLodgementAnswersAGreenLanesFirstStage: a green-lane declaration whose document check clears
// by itself is answered once that stage is behind it, with the next stage's checks running.
func TestLodgementAnswersAGreenLanesFirstStage(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	d := fixture()
	l, r := h.answered(d, LodgementRequest{DeclarationID: d.ID})

	require.Equal(t, StateReleased, r.State)
	require.True(t, l.Accepted)
	require.Equal(t, policy.LaneGreen, l.Lane)
	require.Equal(t, policy.StageCertificationCheck, l.Stage)
	require.Nil(t, l.Waiting)
	require.Equal(t, "the document check found nothing for an officer; the certification check runs now", l.Next)
}

// TestLodgementAnswersARefusalAsLodged: a declaration the register holds for another clearance is
// answered refused as lodged, with the register's reason; the refusal stays on record.
func TestLodgementAnswersARefusalAsLodged(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	why := "declaration NB2020-0001 of exporter 3302960123 was lodged before: registration ED-2026-00000004"
	h.registrationErr = temporal.NewNonRetryableApplicationError(why, activities.ErrDuplicateDeclaration, nil)
	d := fixture()
	l, r := h.answered(d, LodgementRequest{DeclarationID: d.ID})

	require.False(t, l.Accepted)
	require.True(t, l.RefusedAsLodged)
	require.Equal(t, why, l.Reason)
	require.Equal(t, StateRefused, l.State)
	require.Nil(t, l.Registration)
	require.Contains(t, l.Next, "refused as lodged")
	require.Empty(t, l.Accepts)
	// The refusal is on record, as without the lodgement.
	require.Equal(t, StateRefused, r.State)
	require.True(t, r.RefusedAsLodged)
	require.Equal(t, why, r.Reason)
	require.Len(t, r.Decisions, 1)
	require.Equal(t, OutcomeReject, r.Decisions[0].Outcome)
	require.Equal(t, "refused", h.sa[SAStatus])
}

// TestLodgementAnswersARefusalByRule: a declaration the document check's rules refuse is answered
// refused at that stage, open to appeal.
func TestLodgementAnswersARefusalByRule(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.onCheck(policy.StageDocumentCheck, func(activities.CheckInput) (activities.CheckResult, error) {
		return activities.CheckResult{}, invalidDeclaration("invoice total 40000.00 USD does not match the lines, 90000.00 USD")
	})
	d := fixture()
	l, r := h.answered(d, LodgementRequest{DeclarationID: d.ID})

	require.False(t, l.Accepted)
	require.False(t, l.RefusedAsLodged)
	require.Contains(t, l.Reason, "does not match the lines")
	require.NotNil(t, l.Registration, "the declaration was registered before its checks refused it")
	require.Equal(t, policy.StageDocumentCheck, l.Stage)
	require.Equal(t, "nothing more from customs: the declaration was refused at the document check; the refusal may be appealed", l.Next)
	require.Equal(t, StateRefused, r.State)
	require.False(t, r.RefusedAsLodged)
}

// TestLodgementRefusals: the update is refused, naming why and changing nothing, unless it comes
// with the clearance's start and names its declaration in a payload of known fields within bounds.
func TestLodgementRefusals(t *testing.T) {
	d := fixture()
	for name, tc := range map[string]struct {
		arg  any
		want string
	}{
		"another declaration": {LodgementRequest{DeclarationID: "NB2020-0002"}, `declarationId: "NB2020-0002" is not the declaration`},
		"no declaration":      {LodgementRequest{}, "declarationId: missing"},
		"unknown field":       {map[string]any{"declarationId": d.ID, "lane": "green"}, `unknown field "lane"`},
		"too large":           {map[string]any{"declarationId": strings.Repeat("x", MaxPayloadBytes)}, "larger than the"},
		"not an object":       {[]string{d.ID}, "malformed lodgement"},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, policy.LaneGreen)
			out := h.lodge(tc.arg)
			r := h.run(d)
			require.Nil(t, out.answer)
			require.ErrorContains(t, out.refusal, tc.want)
			require.Equal(t, StateReleased, r.State, "a refused lodgement changes nothing")
		})
	}
}

// TestLodgementIsRefusedAfterTheStart: once the clearance has moved on from its start, the
// lodgement is refused with where it stands; the status says it.
func TestLodgementIsRefusedAfterTheStart(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	d := fixture()
	h.send(time.Hour, "late", UpdateLodgement, LodgementRequest{DeclarationID: d.ID})
	h.decide(2*time.Hour, "d1", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeApprove})
	r := h.run(d)
	require.False(t, h.accepted["late"])
	require.ErrorContains(t, h.rejections["late"], "the lodgement is answered only with the clearance's start (it is awaiting-officer")
	require.Equal(t, StateReleased, r.State)
}

// TestLodgementValidatorCallers: only the clearance's exporter asks (an administrator acts for any);
// an officer and another exporter are refused. Without verified callers anyone asks.
func TestLodgementValidatorCallers(t *testing.T) {
	c := fuzzClearance(0, 0, 0)
	require.Equal(t, PhaseStarting, c.phase)
	raw := mustJSON(t, LodgementRequest{DeclarationID: c.decl.ID})
	for name, tc := range map[string]struct {
		caller *Principal
		want   string
	}{
		"no verified caller": {nil, ""},
		"its exporter":       {&Principal{Subject: "desk", Roles: []string{RoleExporter}, Exporter: c.decl.Exporter.Code}, ""},
		"an administrator":   {&Principal{Subject: "ops", Roles: []string{RoleAdmin}}, ""},
		"another exporter": {&Principal{Subject: "rival", Roles: []string{RoleExporter}, Exporter: "9999999999"},
			"you are signed in for exporter 9999999999"},
		"an officer": {&Principal{Subject: "doc-li", Roles: []string{RoleOfficer}}, `"doc-li" is not an exporter`},
	} {
		err := c.validateLodgementUpdate(raw, tc.caller)
		if tc.want == "" {
			require.NoError(t, err, name)
			continue
		}
		require.ErrorContains(t, err, tc.want, name)
	}
}

// TestLodgementOfAStatus: a client that cannot send the update reads the same answer from the
// status, and nothing while the clearance is still being lodged.
func TestLodgementOfAStatus(t *testing.T) {
	due := start.Add(48 * time.Hour)
	for name, tc := range map[string]struct {
		s    Status
		ok   bool
		next string
	}{
		"starting": {Status{Phase: PhaseStarting}, false, ""},
		"first checks": {Status{Phase: PhaseChecking, Stage: policy.StageDocumentCheck,
			Record: Record{Timeline: []StageRecord{{Stage: policy.StageDocumentCheck}}}}, false, ""},
		"earlier release, checking": {Status{State: StateChecking}, false, ""},
		"earlier release, waiting": {Status{State: StateAwaitingOfficer, Stage: policy.StageDocumentCheck,
			Waiting: &Waiting{For: WaitingForOfficer, Role: policy.RoleDocument, Due: due}}, true,
			"waiting for a document officer's decision on the document check, due 2020-04-03 09:00 UTC"},
		"asked for documents": {Status{Phase: PhaseAwaitingExporter, State: StateAwaitingExporter, Stage: policy.StageDocumentCheck,
			Waiting: &Waiting{For: WaitingForExporter, Requested: []string{"quality-declaration"}, Due: due}}, true,
			"customs asks you for quality-declaration, due 2020-04-03 09:00 UTC; without them the declaration lapses"},
		"held": {Status{Phase: PhaseHeld, State: StateChecking}, true, "on hold: no stage begins until the hold is lifted"},
		"released": {Status{Phase: PhaseEnded, State: StateReleased, Notice: &activities.ReleaseNotice{Number: "RN-1"}}, true,
			"nothing more: released under notice RN-1; the goods may be loaded"},
		"withdrawing": {Status{Phase: PhaseWithdrawing, State: StateChecking}, true, "nothing more: the declaration is being withdrawn"},
	} {
		l, ok := LodgementOf(tc.s)
		require.Equal(t, tc.ok, ok, name)
		require.Equal(t, tc.next, l.Next, name)
	}
}

// FuzzLodgement feeds arbitrary payloads to the real validator of the update "lodgement", on a
// clearance in any phase, from any caller: it changes nothing; it accepts only while the
// clearance starts, from its exporter (or without verified callers), a payload that decodes
// strictly to the clearance's own declaration ID within bounds.
func FuzzLodgement(f *testing.F) {
	for _, s := range []string{
		`{"declarationId":"NB2020-0001"}`, `{"declarationId":"NB2020-0002"}`, `{"declarationId":""}`, `{}`,
		`{"declarationId":"NB2020-0001","lane":"green"}`, `{"declarationId":"NB2020-0001"} {}`, `[]`, `null`, `7`,
		`{"declarationId":"` + strings.Repeat("x", MaxPayloadBytes) + `"}`, `{"declarationId":"\u0000"}`,
	} {
		for phase := uint8(0); phase < uint8(len(allPhases)); phase++ {
			f.Add([]byte(s), phase, uint8(0), uint8(0))
			f.Add([]byte(s), phase, uint8(0), uint8(phase%4)<<4)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte, phase, stage, flags uint8) {
		c := fuzzClearance(phase, stage, flags)
		caller := fuzzCaller(c, flags)
		before := snapshot(t, c)
		err := c.validateLodgementUpdate(raw, caller)
		if snapshot(t, c) != before {
			t.Fatal("the validator of lodgement changed the clearance")
		}
		if err != nil {
			if msg := err.Error(); strings.TrimSpace(msg) == "" || len(msg) > MaxPayloadBytes {
				t.Fatalf("refusal of %d bytes: %.200q", len(msg), msg)
			}
			return
		}
		if c.phase != PhaseStarting {
			t.Fatalf("lodgement accepted in phase %s", c.phase)
		}
		if caller != nil && caller.Exporter != c.decl.Exporter.Code {
			t.Fatalf("lodgement accepted from %q, who does not act for the exporter", caller.Subject)
		}
		if len(raw) > MaxPayloadBytes {
			t.Fatalf("accepted a payload of %d bytes", len(raw))
		}
		v, serr := strict[LodgementRequest](raw, "lodgement")
		if serr != nil {
			t.Fatalf("accepted a payload that does not decode strictly: %v", serr)
		}
		if got := lenient[LodgementRequest](raw); got != v || v.DeclarationID != c.decl.ID {
			t.Fatalf("accepted %+v for the clearance of %s", v, c.decl.ID)
		}
	})
}

// The payload the starter sends decodes as the validator reads it.
func TestLodgementRequestJSON(t *testing.T) {
	raw, err := json.Marshal(LodgementRequest{DeclarationID: "LB-2020-DE-0415"})
	require.NoError(t, err)
	require.JSONEq(t, `{"declarationId":"LB-2020-DE-0415"}`, string(raw))
}
