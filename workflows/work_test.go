package workflows

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/medsupply/customs/policy"
)

// TestClaimHoldsTheStageForItsOfficer: an officer claims the document check; ClaimedBy and the
// status show it; another officer's decision is refused naming the holder, and the holder's is
// taken; the claim ends with the stage, and the record keeps every step.
func TestClaimHoldsTheStageForItsOfficer(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	var held Status
	var shown any
	h.send(10*time.Minute, "claim", UpdateClaim, ClaimRequest{Officer: "doc-li"})
	h.env.RegisterDelayedCallback(func() { held, shown = h.status(), h.sa[SAClaimedBy] }, 20*time.Minute)
	h.send(30*time.Minute, "chen claims", UpdateClaim, ClaimRequest{Officer: "doc-chen"})
	h.decide(40*time.Minute, "chen decides", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-chen", Outcome: OutcomeApprove})
	h.send(50*time.Minute, "note", UpdateNote, Note{Officer: "doc-chen", Text: "invoice checked against the packing list"})
	h.decide(time.Hour, "li decides", docApprove)
	r := h.run(fixture())

	require.Equal(t, StateReleased, r.State)
	require.True(t, h.accepted["claim"])
	require.Equal(t, &Claim{Officer: "doc-li", Stage: policy.StageDocumentCheck, At: start.Add(10 * time.Minute)}, held.Claim)
	require.Equal(t, "doc-li", shown)
	require.ErrorContains(t, h.rejections["chen claims"], "the document-check stage is held by doc-li since")
	require.ErrorContains(t, h.rejections["chen decides"], "the document-check stage is held by doc-li since")
	require.True(t, h.accepted["note"])
	require.True(t, h.accepted["li decides"])
	require.Equal(t, "doc-li", r.Decisions[0].Officer)
	require.Equal(t, map[string]any{SAClaimedBy: "doc-li"}, h.upserts[1], "the claim is shown at once, alone")
	// The claim ends with the stage (the server test sees ClaimedBy unset in visibility).
}

// TestReassignAndUnclaim: a supervisor hands a held stage to another officer, who gives it
// back; the record keeps who did what.
func TestReassignAndUnclaim(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	var after Status
	h.send(10*time.Minute, "claim", UpdateClaim, ClaimRequest{Officer: "doc-li"})
	h.send(20*time.Minute, "reassign", UpdateReassign, Reassignment{Supervisor: "sup-huang", Officer: "doc-chen", Reason: "doc-li is on leave"})
	h.send(30*time.Minute, "li unclaims", UpdateUnclaim, ClaimRequest{Officer: "doc-li"})
	h.send(40*time.Minute, "chen unclaims", UpdateUnclaim, ClaimRequest{Officer: "doc-chen", Reason: "needs a chemist"})
	h.env.RegisterDelayedCallback(func() { after = h.status() }, 50*time.Minute)
	h.decide(time.Hour, "approve", docApprove)
	h.run(fixture())

	for _, id := range []string{"claim", "reassign", "chen unclaims", "approve"} {
		require.True(t, h.accepted[id], id)
	}
	require.ErrorContains(t, h.rejections["li unclaims"], "held by doc-chen, not doc-li")
	require.Nil(t, after.Claim)
	require.Equal(t, []WorkRecord{
		{Kind: WorkClaimed, Officer: "doc-li", Holder: "doc-li", Stage: policy.StageDocumentCheck, At: start.Add(10 * time.Minute)},
		{Kind: WorkReassigned, Officer: "sup-huang", Holder: "doc-chen", Stage: policy.StageDocumentCheck, Text: "doc-li is on leave", At: start.Add(20 * time.Minute)},
		{Kind: WorkUnclaimed, Officer: "doc-chen", Stage: policy.StageDocumentCheck, Text: "needs a chemist", At: start.Add(40 * time.Minute)},
	}, after.Work)
}

// TestWorkManagementRefusals: each refusal of claim, unclaim, reassign and note, on a clearance
// whose document check awaits an officer (or has ended), names the field and the reason.
func TestWorkManagementRefusals(t *testing.T) {
	awaiting := func() *clearance { return fuzzClearance(2, 0, 0) } // awaiting an officer at document-check
	held := func() *clearance {
		c := awaiting()
		c.Claim = &Claim{Officer: "doc-li", Stage: policy.StageDocumentCheck, At: start}
		return c
	}
	ended := func() *clearance { return fuzzClearance(11, 0, 0) }
	checking := func() *clearance { return fuzzClearance(1, 0, 0) }
	officer := &Principal{Subject: "doc-li", Roles: []string{RoleOfficer}}
	long := strings.Repeat("n", MaxReasonBytes+1)
	for _, tc := range []struct {
		name   string
		c      *clearance
		update string
		body   string
		caller *Principal
		want   string
	}{
		{"claim while checking", checking(), UpdateClaim, `{"officer":"doc-li"}`, nil, "only a stage that awaits an officer's decision is claimed"},
		{"claim without the role", awaiting(), UpdateClaim, `{"officer":"cert-liu"}`, nil, `officer: "cert-liu" does not hold the role`},
		{"claim by someone off the roster", awaiting(), UpdateClaim, `{"officer":"nobody"}`, nil, `officer: "nobody" is not on the roster`},
		{"claim as someone else", awaiting(), UpdateClaim, `{"officer":"doc-chen"}`, officer, "is not the caller"},
		{"claim held by another", held(), UpdateClaim, `{"officer":"doc-chen"}`, nil, "held by doc-li"},
		{"claim held already", held(), UpdateClaim, `{"officer":"doc-li"}`, nil, "doc-li holds the document-check stage already"},
		{"claim with an unknown field", awaiting(), UpdateClaim, `{"officer":"doc-li","priority":1}`, nil, `unknown field "priority"`},
		{"claim with a control character", awaiting(), UpdateClaim, `{"officer":"doc-li","reason":"\u001b[2J"}`, nil, "reason:"},
		{"unclaim of nobody's stage", awaiting(), UpdateUnclaim, `{"officer":"doc-li"}`, nil, "nobody holds the document-check stage"},
		{"unclaim by another", held(), UpdateUnclaim, `{"officer":"doc-chen"}`, nil, "held by doc-li, not doc-chen"},
		{"unclaim after the end", ended(), UpdateUnclaim, `{"officer":"doc-li"}`, nil, "no stage is held now"},
		{"reassign by an officer", held(), UpdateReassign, `{"supervisor":"doc-chen","officer":"doc-chen","reason":"x"}`, nil, "only a supervisor reassigns"},
		{"reassign without a reason", held(), UpdateReassign, `{"supervisor":"sup-huang","officer":"doc-chen"}`, nil, "reason: required to reassign"},
		{"reassign to an officer without the role", held(), UpdateReassign, `{"supervisor":"sup-huang","officer":"hq-wang","reason":"x"}`, nil, `officer: "hq-wang" does not hold the role`},
		{"reassign to the holder", held(), UpdateReassign, `{"supervisor":"sup-huang","officer":"doc-li","reason":"x"}`, nil, "doc-li holds the document-check stage already"},
		{"reassign nobody's stage to nobody", awaiting(), UpdateReassign, `{"supervisor":"sup-huang","officer":"","reason":"x"}`, nil, "nobody holds the document-check stage"},
		{"reassign while checking", checking(), UpdateReassign, `{"supervisor":"sup-huang","officer":"doc-chen","reason":"x"}`, nil, "only while it waits"},
		{"note after the end", ended(), UpdateNote, `{"officer":"doc-li","text":"late"}`, nil, "takes no notes now"},
		{"note blank", awaiting(), UpdateNote, `{"officer":"doc-li","text":"  "}`, nil, "text: blank"},
		{"note too long", awaiting(), UpdateNote, `{"officer":"doc-li","text":"` + long + `"}`, nil, "text:"},
		{"note by someone off the roster", awaiting(), UpdateNote, `{"officer":"buyer","text":"hi"}`, nil, `officer: "buyer" is not on the roster`},
		{"note as someone else", awaiting(), UpdateNote, `{"officer":"doc-chen","text":"hi"}`, officer, "is not the caller"},
		{"note with an unknown field", awaiting(), UpdateNote, `{"officer":"doc-li","text":"hi","to":"all"}`, nil, `unknown field "to"`},
		{"note not JSON", awaiting(), UpdateNote, `note`, nil, "malformed note"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			validate := map[string]func(json.RawMessage, *Principal) error{
				UpdateClaim: tc.c.validateClaim, UpdateUnclaim: tc.c.validateUnclaim,
				UpdateReassign: tc.c.validateReassign, UpdateNote: tc.c.validateNote,
			}[tc.update]
			err := validate(json.RawMessage(tc.body), tc.caller)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}

	full := awaiting()
	for range MaxNotes {
		full.Work = append(full.Work, WorkRecord{Kind: WorkNoted, Officer: "doc-li", Text: "n"})
	}
	require.ErrorContains(t, full.validateNote(json.RawMessage(`{"officer":"doc-li","text":"one more"}`), nil), "the most it keeps")

	// What is accepted: the same requests, right.
	require.NoError(t, awaiting().validateClaim(json.RawMessage(`{}`), officer), "the caller claims as themself")
	require.NoError(t, held().validateReassign(json.RawMessage(`{"supervisor":"sup-huang","officer":"","reason":"back to the queue"}`), nil))
	require.NoError(t, held().validateUnclaim(json.RawMessage(`{"officer":"doc-li"}`), nil))
}

// TestWorkManagementExamples: the payloads in examples/updates are what the validators accept,
// on a document check that awaits an officer (held by doc-li for unclaim and reassign).
func TestWorkManagementExamples(t *testing.T) {
	read := func(name string) json.RawMessage {
		b, err := os.ReadFile(filepath.Join("..", "examples", "updates", name))
		require.NoError(t, err)
		return b
	}
	awaiting := fuzzClearance(2, 0, 0)
	held := fuzzClearance(2, 0, 0)
	held.Claim = &Claim{Officer: "doc-li", Stage: policy.StageDocumentCheck, At: start}
	require.NoError(t, awaiting.validateClaim(read("claim.json"), nil))
	require.NoError(t, held.validateUnclaim(read("unclaim.json"), nil))
	require.NoError(t, held.validateReassign(read("reassign.json"), nil))
	require.NoError(t, awaiting.validateNote(read("note.json"), nil))
	require.NoError(t, awaiting.validateHold(read("hold.json"), nil))
	agency := fuzzClearance(2, 0, 0)
	agency.Holds = []HoldRecord{{Hold: Hold{Supervisor: "sup-huang", Agency: "NMPA", Reason: "x"}, At: start}}
	require.NoError(t, agency.validateLift(read("lift.json"), nil))
	require.NoError(t, agency.validateLift(read("lift-refused.json"), nil))
}

// TestQueuePriorityPublished: the priority the lane selection gives is the clearance's
// QueuePriority when it first waits on an officer, so a queue can be worked by priority.
func TestQueuePriorityPublished(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.priority = policy.PriorityHigh
	h.decide(time.Hour, "approve", docApprove)
	h.run(fixture())
	require.Equal(t, policy.PriorityHigh, h.upserts[0][SAPriority], "with the first upsert, when the clearance waits on an officer")
	require.Equal(t, "awaiting-officer", h.upserts[0][SAStatus])

	old := newHarness(t, policy.LaneGreen) // a lane selection recorded before priorities
	old.run(fixture())
	for _, u := range old.upserts {
		require.NotContains(t, u, SAPriority)
	}
}

// TestWorkIsBounded: claim and unclaim in a loop, with the longest reasons, stop at
// MaxWorkRecords steps of work: the next claim is refused with the reason, and what the run keeps
// stays far under the server's payload limits; the stage is still decided.
func TestWorkIsBounded(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	reason := strings.Repeat("r", MaxWorkReasonBytes)
	for i := 0; i < MaxWorkRecords/2; i++ {
		at := time.Minute + time.Duration(i)*time.Second
		h.send(at, fmt.Sprintf("claim %d", i), UpdateClaim, ClaimRequest{Officer: "doc-li", Reason: reason})
		h.send(at+time.Second/2, fmt.Sprintf("unclaim %d", i), UpdateUnclaim, ClaimRequest{Officer: "doc-li", Reason: reason})
	}
	var kept Status
	h.env.RegisterDelayedCallback(func() { kept = h.status() }, time.Hour)
	h.send(time.Hour+time.Minute, "one more", UpdateClaim, ClaimRequest{Officer: "doc-li"})
	h.decide(2*time.Hour, "approve", docApprove)
	r := h.run(fixture())

	require.Equal(t, MaxWorkRecords, len(kept.Work))
	require.ErrorContains(t, h.rejections["one more"], fmt.Sprintf("work: the clearance keeps %d steps of work", MaxWorkRecords))
	b, err := json.Marshal(kept)
	require.NoError(t, err)
	require.Less(t, len(b), 1<<20, "the status of a clearance at its bound of work")
	require.Equal(t, StateReleased, r.State)
}

// TestClaimAndReassignKeepTheSeparationOfDuties: the officer who decided the biological review
// may not claim the release, nor be handed it by a supervisor: a claim is the first step of a
// decision, and one the officer could not take would lock out those who may.
func TestClaimAndReassignKeepTheSeparationOfDuties(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	h.decide(time.Hour, "bio", Decision{Stage: policy.StageBiologicalReview, Officer: "rel-wu", Outcome: OutcomeApprove})
	h.send(2*time.Hour, "wu claims", UpdateClaim, ClaimRequest{Officer: "rel-wu"})
	h.send(2*time.Hour+time.Minute, "to wu", UpdateReassign, Reassignment{Supervisor: "sup-huang", Officer: "rel-wu", Reason: "on duty"})
	h.send(2*time.Hour+2*time.Minute, "zhou claims", UpdateClaim, ClaimRequest{Officer: "rel-zhou"})
	h.decide(3*time.Hour, "rel", Decision{Stage: policy.StageRelease, Officer: "rel-zhou", Outcome: OutcomeApprove})
	r := h.run(biological(fixture()))

	require.ErrorContains(t, h.rejections["wu claims"], "decided the biological review")
	require.ErrorContains(t, h.rejections["to wu"], "decided the biological review")
	require.True(t, h.accepted["zhou claims"], "the officers who may decide the release are not locked out")
	require.Equal(t, StateReleased, r.State)
	require.Equal(t, "rel-zhou", r.Decisions[len(r.Decisions)-1].Officer)
}

// TestARefusalIsNotRetryable: a refused update reaches its caller as a non-retryable application
// error of type RequestRefused with the reason, so that no client offers to retry it.
func TestARefusalIsNotRetryable(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.send(time.Minute, "unclaim", UpdateUnclaim, ClaimRequest{Officer: "doc-li"})
	h.decide(time.Hour, "approve", docApprove)
	h.run(fixture())
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, h.rejections["unclaim"], &appErr)
	require.Equal(t, ErrTypeRefused, appErr.Type())
	require.True(t, appErr.NonRetryable())
	require.Contains(t, appErr.Message(), "nobody holds the document-check stage")
}
