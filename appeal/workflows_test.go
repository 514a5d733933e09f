package appeal

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

var refusedAt = time.Date(2020, 5, 12, 10, 0, 0, 0, time.UTC)

// harness runs the appeal in the SDK's test environment: the configuration, the refusal and the
// exporter's notifications are stand-ins; the reopened clearance is a stand-in workflow that
// records the input it was started with.
type harness struct {
	testsuite.WorkflowTestSuite
	t        *testing.T
	env      *testsuite.TestWorkflowEnvironment
	cfg      activities.Configuration
	refusal  Refusal
	err      error
	told     []activities.Notification
	reopened []workflows.Input
	heard    []Hearing
	hearErr  error
	refused  map[string]error
	// register is the hearings register the appeal's admission claims the refused run in;
	// loads counts LoadRefusal's calls.
	register *memRegister
	loads    int
	// runID stands in for the appeal's run ID in its admission: the test environment gives
	// every run the same one.
	runID string
	// loaded, when set, is called once LoadRefusal has read the refusal.
	loaded func() error
}

// appealID is the appeal's own workflow ID: the one ID of an appeal of the declaration.
const appealID = "appeal-3205960330-JH-2020-US-0513"

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, refused: map[string]error{}, register: newMemRegister(), runID: "default-test-run-id"}
	h.cfg = activities.Configuration{Policy: policy.Default(), Roster: policy.DefaultRoster()}
	h.cfg.Roster.Officers = append(h.cfg.Roster.Officers, policy.Officer{ID: "sup-ma", Name: "Ma Lin", Roles: []policy.Role{policy.RoleSupervisor}})
	decl := declaration.Declaration{ID: "JH-2020-US-0513", Exporter: declaration.Party{Code: "3205960330"}}
	h.refusal = Refusal{
		Refused: Refused{Stage: policy.StageDocumentCheck, Reason: "invoice and packing list disagree", Officer: "sup-huang",
			At: refusedAt, RunID: "run-refused"},
		Ended: refusedAt, FirstRunID: "run-first", Declaration: decl,
		Status: workflows.Status{DeclarationID: decl.ID, Exporter: decl.Exporter.Code, Lane: policy.LaneYellow, Submitted: refusedAt.Add(-time.Hour),
			Registration: &workflows.Registration{Number: "ED-2020-00000007"},
			Record:       workflows.Record{Timeline: []workflows.StageRecord{{Stage: policy.StageDocumentCheck, Outcome: "refused"}}}},
	}
	h.env = h.NewTestWorkflowEnvironment()
	h.env.SetStartTime(refusedAt.Add(24 * time.Hour))
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: appealID})
	h.env.RegisterWorkflowWithOptions(ClearanceAppeal, workflow.RegisterOptions{Name: WorkflowName})
	h.env.RegisterActivityWithOptions(func(context.Context) (activities.Configuration, error) { return h.cfg, nil },
		activity.RegisterOptions{Name: activities.NameLoadConfiguration})
	h.env.RegisterActivityWithOptions(func(_ context.Context, r RefusalRequest) (Refusal, error) {
		require.Equal(t, "clearance-3205960330-JH-2020-US-0513", r.WorkflowID)
		h.loads++
		if h.loaded != nil {
			if err := h.loaded(); err != nil {
				return Refusal{}, temporal.NewNonRetryableApplicationError(err.Error(), "Test", nil)
			}
		}
		return h.refusal, h.err
	}, activity.RegisterOptions{Name: NameLoadRefusal})
	h.env.RegisterActivityWithOptions(func(ctx context.Context, ad Admission) (Admission, error) {
		require.Equal(t, "clearance-3205960330-JH-2020-US-0513", ad.WorkflowID)
		ad.AppealRunID = h.runID
		return (&Activities{Client: h.register, Hearings: h.register}).AdmitAppeal(ctx, ad)
	}, activity.RegisterOptions{Name: NameAdmitAppeal})
	h.env.RegisterActivityWithOptions(func(_ context.Context, hr Hearing) (Hearing, error) {
		require.Empty(t, h.told, "the hearing is recorded before the exporter is told")
		if hr.Outcome == OutcomeUphold {
			require.Len(t, h.reopened, 1, "an upheld appeal is recorded once the clearance has reopened")
		}
		if h.hearErr != nil {
			return Hearing{}, h.hearErr
		}
		h.heard = append(h.heard, hr)
		return hr, nil
	}, activity.RegisterOptions{Name: NameRecordHearing})
	h.env.RegisterActivityWithOptions(func(_ context.Context, n activities.Notification) error {
		h.told = append(h.told, n)
		return nil
	}, activity.RegisterOptions{Name: activities.NameNotifyExporter})
	h.env.RegisterWorkflowWithOptions(func(ctx workflow.Context, in workflows.Input) (workflows.Result, error) {
		h.reopened = append(h.reopened, in)
		return workflows.Result{}, nil
	}, workflow.RegisterOptions{Name: workflows.WorkflowName})
	return h
}

func (h *harness) decide(after time.Duration, id string, d any) {
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(UpdateDecide, id, &testsuite.TestUpdateCallback{
			OnAccept:   func() {},
			OnReject:   func(err error) { h.refused[id] = err },
			OnComplete: func(any, error) {},
		}, d)
	}, after)
}

func (h *harness) run(grounds string) Result {
	h.env.ExecuteWorkflow(WorkflowName, Input{Exporter: "3205960330", DeclarationID: "JH-2020-US-0513", Grounds: grounds})
	require.True(h.t, h.env.IsWorkflowCompleted())
	require.NoError(h.t, h.env.GetWorkflowError())
	var r Result
	require.NoError(h.t, h.env.GetWorkflowResult(&r))
	return r
}

const grounds = "the packing list counts cartons, the invoice pieces: 4,000 cartons of 25 are the 100,000 pieces invoiced"

// Upheld by a supervisor who did not refuse, the appeal reopens the clearance under its own
// workflow ID at the refused stage, with the whole record, bound to its first run, and tells the
// exporter; the supervisor who refused may not decide it.
func TestUpheldAppealReopensTheClearance(t *testing.T) {
	h := newHarness(t)
	h.decide(time.Hour, "own", Decision{Supervisor: "sup-huang", Outcome: OutcomeUphold, Reason: "x"})
	h.decide(2*time.Hour, "other", Decision{Supervisor: "sup-ma", Outcome: OutcomeUphold, Reason: "cartons of 25 pieces: the totals agree"})
	r := h.run(grounds)

	require.ErrorContains(t, h.refused["own"], "sup-huang took the refusal at document-check and may not decide its appeal")
	require.Equal(t, OutcomeUphold, r.Outcome)
	require.Equal(t, "sup-ma", r.Decision.Supervisor)
	require.Len(t, h.reopened, 1)
	in := h.reopened[0]
	require.Equal(t, "JH-2020-US-0513", in.Declaration.ID)
	require.NotNil(t, in.Carried)
	require.Equal(t, policy.StageDocumentCheck, in.Carried.Stage)
	require.Equal(t, "run-first", in.Carried.FirstRunID)
	require.Equal(t, "ED-2020-00000007", in.Carried.Registration.Number)
	require.Len(t, in.Carried.Timeline, 1)
	require.Equal(t, "sup-ma", in.Reopened.Supervisor)
	require.Equal(t, grounds, in.Reopened.Grounds)
	require.Equal(t, "sup-huang", in.Reopened.RefusedBy)
	require.Equal(t, "run-refused", in.Reopened.RefusedRunID)
	require.Len(t, h.told, 1)
	require.Equal(t, activities.NotifyAppeal, h.told[0].Kind)
	require.Contains(t, h.told[0].Message, "upheld by sup-ma")
	require.Len(t, h.heard, 1)
	require.Equal(t, Hearing{RefusedRunID: "run-refused", WorkflowID: "clearance-3205960330-JH-2020-US-0513",
		Appeal: appealID, AppealRunID: "default-test-run-id", Outcome: OutcomeUphold, Supervisor: "sup-ma",
		Decided: refusedAt.Add(26 * time.Hour), Reason: "cartons of 25 pieces: the totals agree"}, h.heard[0])
}

// Dismissed, the refusal stands: nothing reopens, and the exporter is told why.
func TestDismissedAppealLeavesTheRefusal(t *testing.T) {
	h := newHarness(t)
	h.refusal.Officer = "doc-chen"
	h.decide(time.Hour, "d", Decision{Supervisor: "sup-huang", Outcome: OutcomeDismiss, Reason: "the cartons hold 20 each: the totals differ"})
	r := h.run(grounds)

	require.Equal(t, OutcomeDismiss, r.Outcome)
	require.Empty(t, h.reopened)
	require.Contains(t, h.told[0].Message, "dismissed by sup-huang: the refusal stands: the cartons hold 20 each")
	require.Equal(t, []Hearing{{RefusedRunID: "run-refused", WorkflowID: "clearance-3205960330-JH-2020-US-0513",
		Appeal: appealID, AppealRunID: "default-test-run-id", Outcome: OutcomeDismiss, Supervisor: "sup-huang",
		Decided: refusedAt.Add(25 * time.Hour), Reason: "the cartons hold 20 each: the totals differ"}}, h.heard)
}

// A hearing the register cannot take is logged, and the decision is carried out all the same:
// the clearance reopens, or the refusal stands, and the exporter is told.
func TestDecisionCarriedOutWhenTheHearingIsNotRecorded(t *testing.T) {
	for _, outcome := range []string{OutcomeUphold, OutcomeDismiss} {
		t.Run(outcome, func(t *testing.T) {
			h := newHarness(t)
			h.hearErr = temporal.NewNonRetryableApplicationError("this worker keeps no hearings register", ErrNoHearing, nil)
			h.decide(time.Hour, "d", Decision{Supervisor: "sup-ma", Outcome: outcome, Reason: "weighed"})
			r := h.run(grounds)
			require.Equal(t, outcome, r.Outcome)
			require.Empty(t, h.heard)
			require.Len(t, h.told, 1)
			if outcome == OutcomeUphold {
				require.Len(t, h.reopened, 1)
			} else {
				require.Empty(t, h.reopened)
			}
		})
	}
}

// An appeal out of time, against a clearance that cannot be appealed, under a policy that takes
// none, or without grounds is not admitted, with the reason; no supervisor is asked.
func TestAppealsNotAdmitted(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(h *harness)
		grounds string
		want    string
	}{
		{"out of time", func(h *harness) { h.env.SetStartTime(refusedAt.Add(31 * 24 * time.Hour)) }, grounds, "the appeal window closed at 2020-06-11T10:00:00Z"},
		{"not refused", func(h *harness) {
			h.err = temporal.NewNonRetryableApplicationError("the clearance ended released, not refused", ErrNotAppealable, nil)
		}, grounds, "ended released, not refused"},
		{"no appeals", func(h *harness) { h.cfg.Policy.AppealWindow = 0 }, grounds, "takes no appeals"},
		{"no grounds", nil, "  ", "grounds: required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if tc.setup != nil {
				tc.setup(h)
			}
			r := h.run(tc.grounds)
			require.Equal(t, OutcomeInadmissible, r.Outcome)
			require.Contains(t, r.Reason, tc.want)
			require.Empty(t, h.reopened)
			require.Empty(t, h.heard, "an appeal not admitted is not a hearing")
			require.Contains(t, h.told[0].Message, "not admitted: ")
		})
	}
}

// Every refusal of "decide-appeal" names the field and the reason.
func TestDecideAppealRefusals(t *testing.T) {
	a := &appeal{cfg: activities.Configuration{Policy: policy.Default(), Roster: policy.DefaultRoster()},
		refusal: Refusal{Refused: Refused{Stage: policy.StageDocumentCheck, Officer: "doc-chen"}},
		status:  Status{Phase: PhaseAwaitingSupervisor}}
	supervisor := &workflows.Principal{Subject: "sup-huang", Roles: []string{workflows.RoleSupervisor}}
	for _, tc := range []struct {
		name    string
		payload string
		caller  *workflows.Principal
		phase   string
		want    string
	}{
		{"unknown field", `{"supervisor":"sup-huang","outcome":"uphold","reason":"x","stage":"release"}`, nil, "", `unknown field "stage"`},
		{"trailing data", `{"supervisor":"sup-huang","outcome":"uphold","reason":"x"} {}`, nil, "", "data after the JSON object"},
		{"not a supervisor", `{"supervisor":"doc-li","outcome":"uphold","reason":"x"}`, nil, "", `"doc-li" is not a supervisor`},
		{"not on the roster", `{"supervisor":"sup-nobody","outcome":"uphold","reason":"x"}`, nil, "", "not on the roster"},
		{"missing", `{"outcome":"uphold","reason":"x"}`, nil, "", "supervisor: missing"},
		{"not the caller", `{"supervisor":"sup-ma","outcome":"uphold","reason":"x"}`, supervisor, "", `"sup-ma" is not the caller`},
		{"unknown outcome", `{"supervisor":"sup-huang","outcome":"allow","reason":"x"}`, nil, "", `outcome: "allow" is not uphold or dismiss`},
		{"no reason", `{"supervisor":"sup-huang","outcome":"dismiss"}`, nil, "", "reason: required to dismiss"},
		{"control characters", `{"supervisor":"sup-huang","outcome":"dismiss","reason":"\u001b[2J"}`, nil, "", "reason: "},
		{"not awaiting", `{"supervisor":"sup-huang","outcome":"uphold","reason":"x"}`, nil, PhaseAdmitting, "not awaiting a supervisor's decision (it is admitting)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.status.Phase = PhaseAwaitingSupervisor
			if tc.phase != "" {
				a.status.Phase = tc.phase
			}
			err := a.validate(json.RawMessage(tc.payload), tc.caller)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			require.Nil(t, a.status.Decision)
		})
	}
	a.status.Phase = PhaseAwaitingSupervisor
	require.NoError(t, a.validate(json.RawMessage(`{"outcome":"uphold","reason":"the totals agree"}`), supervisor))
}

// FuzzDecideAppeal feeds arbitrary payloads to the validator: it never panics, changes nothing,
// and accepts only a known outcome with a reason from a supervisor who did not refuse.
func FuzzDecideAppeal(f *testing.F) {
	for _, s := range []string{`{"supervisor":"sup-huang","outcome":"uphold","reason":"x"}`, `{"supervisor":"doc-chen","outcome":"dismiss","reason":"x"}`,
		`{"outcome":"uphold"}`, `[]`, `null`, `{"supervisor":"sup-huang","outcome":"uphold","reason":"x","more":1}`} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, raw []byte, verified bool) {
		a := &appeal{cfg: activities.Configuration{Policy: policy.Default(), Roster: policy.DefaultRoster()},
			refusal: Refusal{Refused: Refused{Stage: policy.StageDocumentCheck, Officer: "doc-chen"}},
			status:  Status{Phase: PhaseAwaitingSupervisor}}
		var caller *workflows.Principal
		if verified {
			caller = &workflows.Principal{Subject: "sup-huang", Roles: []string{workflows.RoleSupervisor}}
		}
		if err := a.validate(raw, caller); err != nil {
			if len(err.Error()) > workflows.MaxPayloadBytes {
				t.Fatalf("refusal of %d bytes", len(err.Error()))
			}
			return
		}
		var d Decision
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("accepted a payload that does not decode: %v", err)
		}
		if d.Supervisor == "" && caller != nil {
			d.Supervisor = caller.Subject
		}
		if d.Supervisor == "doc-chen" || (d.Outcome != OutcomeUphold && d.Outcome != OutcomeDismiss) || declaration.TextProblem(d.Reason, MaxReasonBytes, true) != "" {
			t.Fatalf("accepted %+v", d)
		}
	})
}

// The shipped example of the update is accepted by an appeal that awaits a supervisor.
func TestDecideAppealExample(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "examples", "updates", "decide-appeal.json"))
	require.NoError(t, err)
	a := &appeal{cfg: activities.Configuration{Policy: policy.Default(), Roster: policy.DefaultRoster()},
		refusal: Refusal{Refused: Refused{Stage: policy.StageDocumentCheck, Officer: "doc-chen"}},
		status:  Status{Phase: PhaseAwaitingSupervisor}}
	require.NoError(t, a.validate(raw, nil))
}

// A long text is cut at a character boundary, never inside one.
func TestClipKeepsCharactersWhole(t *testing.T) {
	s := strings.Repeat("a", 199) + "国械注准"
	got := clip(s)
	require.True(t, utf8.ValidString(got), "%q", got)
	require.Equal(t, strings.Repeat("a", 199), got)
	require.Equal(t, "short", clip("short"))
}

// A refusal the register holds a hearing of is not heard again, and the refusal names the
// hearing; another refusal of the same clearance is.
func TestRecordedHearingIsNotHeardAgain(t *testing.T) {
	a := &Activities{Hearings: newMemRegister()}
	if _, err := a.RecordHearing(context.Background(), Hearing{RefusedRunID: "run-refused", Outcome: OutcomeDismiss,
		Supervisor: "sup-huang", Decided: refusedAt, Reason: "the totals differ"}); err != nil {
		t.Fatal(err)
	}
	err := a.heardBefore(context.Background(), "", "run-refused")
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, ErrNotAppealable, appErr.Type())
	require.Equal(t, "the refusal was appealed already: the appeal was dismissed by sup-huang at 2020-05-12T10:00:00Z (the totals differ)",
		appErr.Message())
	require.NoError(t, a.heardBefore(context.Background(), "", "run-refused-later"))
	_, err = (&Activities{}).RecordHearing(context.Background(), Hearing{RefusedRunID: "run-refused", Outcome: OutcomeDismiss})
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, ErrNoHearing, appErr.Type())
	require.Contains(t, appErr.Message(), "no hearings register")
	_, err = a.RecordHearing(context.Background(), Hearing{Outcome: OutcomeDismiss})
	require.ErrorAs(t, err, &appErr)
	require.True(t, appErr.NonRetryable(), "a hearing without its refused run is not retried")
}
