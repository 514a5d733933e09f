package workflows

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
)

var docApproveAt = Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeApprove}

// A short shipment: line 1 down to 180,000 masks, the invoice with it.
func shortShipment() Amendment {
	d := fixture()
	line := d.Lines[0]
	line.Quantity, line.Value = 180000, 3600000
	return Amendment{
		Lines:     []declaration.Line{line},
		Documents: []declaration.Document{{Type: declaration.DocCommercialInvoice, Reference: "INV-1", Amount: 3600000, Currency: "USD"}},
		Reason:    "the factory ships 180,000 masks, not 200,000",
	}
}

// Before any officer has started on it, an amendment applies at once: the declaration changes,
// the diff is recorded, the document check runs again on the amended declaration, and the officer
// then decides the amended declaration.
func TestAmendmentBeforeAnOfficerStartsAppliesAtOnce(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	var checked []activities.CheckInput
	h.onCheck(policy.StageDocumentCheck, func(in activities.CheckInput) (activities.CheckResult, error) {
		checked = append(checked, in)
		return activities.CheckResult{CheckedAt: in.On}, nil
	})
	var during Status
	h.send(time.Hour, "amend", UpdateAmend, shortShipment())
	h.env.RegisterDelayedCallback(func() { during = h.status() }, 2*time.Hour)
	h.decide(3*time.Hour, "approve", docApproveAt)
	r := h.run(fixture())

	require.NoError(t, h.rejections["amend"])
	require.True(t, h.accepted["amend"])
	require.Equal(t, StateReleased, r.State)
	require.Len(t, r.Amendments, 1)
	a := r.Amendments[0]
	require.Equal(t, 1, a.Version)
	require.Equal(t, AmendmentApplied, a.Status)
	require.Empty(t, a.Officer, "a free amendment has no consenting officer")
	require.Equal(t, []declaration.Change{
		{Path: "lines[0].quantity", From: "200000", To: "180000"},
		{Path: "lines[0].value", From: "4000000", To: "3600000"},
		{Path: "documents[0].amount", From: "4000000", To: "3600000"},
	}, a.Changes)
	require.Len(t, checked, 2, "the document check runs again on the amended declaration")
	require.Equal(t, int64(180000), checked[1].Declaration.Lines[0].Quantity)
	require.Equal(t, int64(3600000), checked[1].Declaration.Documents[0].Amount)
	require.Equal(t, 2, r.Timeline[0].CheckRuns)
	require.Equal(t, PhaseAwaitingOfficer, during.Phase, "the officer reviews the amended declaration")
	require.Len(t, during.Amendments, 1)
}

// Once an officer has started, an amendment waits for an officer's consent: decisions on the
// stage are refused meanwhile; on consent it applies, the checks of the earlier stages it bears on
// run again, and the officer reviews the stage whatever its checks find.
func TestAmendmentAfterAnOfficerStartedNeedsConsent(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	d := biological(fixture())
	var docChecks []activities.CheckInput
	h.onCheck(policy.StageDocumentCheck, func(in activities.CheckInput) (activities.CheckResult, error) {
		docChecks = append(docChecks, in)
		return activities.CheckResult{CheckedAt: in.On}, nil
	})
	a := Amendment{Documents: []declaration.Document{{Type: declaration.DocPackingList, Reference: "PL-1", Issued: start}},
		Reason: "the packing list now dates the shipment"}
	var awaiting, applied Status
	h.decide(time.Hour, "doc", docApproveAt)
	h.send(2*time.Hour, "amend", UpdateAmend, a)
	h.env.RegisterDelayedCallback(func() { awaiting = h.status() }, 3*time.Hour)
	h.decide(4*time.Hour, "blocked", Decision{Stage: policy.StageBiologicalReview, Officer: "hq-wang", Outcome: OutcomeApprove})
	h.send(5*time.Hour, "consent", UpdateDecideAmendment, AmendmentDecision{Officer: "hq-wang", Amendment: 1, Outcome: AmendmentConsent})
	h.env.RegisterDelayedCallback(func() { applied = h.status() }, 6*time.Hour)
	h.decide(7*time.Hour, "bio", Decision{Stage: policy.StageBiologicalReview, Officer: "hq-wang", Outcome: OutcomeApprove})
	h.decide(8*time.Hour, "rel", Decision{Stage: policy.StageRelease, Officer: "rel-zhou", Outcome: OutcomeApprove})
	r := h.run(d)

	require.Equal(t, StateReleased, r.State)
	require.Equal(t, AmendmentAwaitingConsent, awaiting.Amendments[0].Status)
	require.Contains(t, h.rejections["blocked"].Error(), "amendment 1 awaits an officer's consent")
	require.True(t, h.accepted["consent"])
	rec := r.Amendments[0]
	require.Equal(t, AmendmentApplied, rec.Status)
	require.Equal(t, "hq-wang", rec.Officer)
	require.Equal(t, policy.StageBiologicalReview, rec.Stage)
	require.Equal(t, []policy.Stage{policy.StageDocumentCheck}, rec.Rechecked)
	require.Len(t, docChecks, 2, "the document check ran again at the biological review")
	require.Equal(t, start, docChecks[1].Declaration.Documents[1].Issued)
	require.Equal(t, PhaseAwaitingOfficer, applied.Phase)
	recheck := applied.Findings[len(applied.Findings)-2]
	require.True(t, recheck.Recheck)
	require.Equal(t, policy.StageDocumentCheck, recheck.Stage)
	var told []string
	for _, n := range h.notifications {
		if n.Kind == activities.NotifyAmendment {
			told = append(told, n.Message)
		}
	}
	require.Len(t, told, 1)
	require.Contains(t, told[0], "amendment 1 accepted")
}

// A refused amendment changes nothing and tells the exporter why; the stage is decided as lodged.
func TestRefusedAmendmentChangesNothing(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	calls := 0
	h.onCheck(policy.StageDocumentCheck, func(in activities.CheckInput) (activities.CheckResult, error) {
		calls++
		return activities.CheckResult{CheckedAt: in.On}, nil
	})
	h.send(time.Hour, "claim", UpdateClaim, ClaimRequest{Officer: "doc-li"})
	h.send(2*time.Hour, "amend", UpdateAmend, shortShipment())
	h.send(3*time.Hour, "refuse", UpdateDecideAmendment, AmendmentDecision{Officer: "doc-li", Amendment: 1,
		Outcome: AmendmentRefuse, Reason: "the goods are counted already"})
	var after Status
	h.env.RegisterDelayedCallback(func() { after = h.status() }, 4*time.Hour)
	h.decide(5*time.Hour, "approve", docApproveAt)
	r := h.run(fixture())

	require.Equal(t, StateReleased, r.State)
	require.Equal(t, AmendmentRefused, r.Amendments[0].Status)
	require.Equal(t, "the goods are counted already", r.Amendments[0].DecisionReason)
	require.Equal(t, 1, calls, "a refused amendment runs no check again")
	require.Equal(t, PhaseAwaitingOfficer, after.Phase)
	var refused bool
	for _, n := range h.notifications {
		refused = refused || (n.Kind == activities.NotifyAmendment && strings.Contains(n.Message, "refused: the goods are counted already"))
	}
	require.True(t, refused, "the exporter is told the refusal and its reason")
}

// An amendment that fails the checks of an earlier stage when they run again refuses the
// declaration by rule, as a supplied document would.
func TestAmendmentThatFailsAnEarlierCheckRefuses(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.onCheck(policy.StageDocumentCheck,
		func(in activities.CheckInput) (activities.CheckResult, error) {
			return activities.CheckResult{CheckedAt: in.On}, nil
		},
		func(in activities.CheckInput) (activities.CheckResult, error) {
			return activities.CheckResult{}, invalidDeclaration("lines[0].hsCode: not a medical heading")
		})
	h.decide(time.Hour, "doc", docApproveAt)
	h.send(2*time.Hour, "amend", UpdateAmend, shortShipment())
	h.send(3*time.Hour, "consent", UpdateDecideAmendment, AmendmentDecision{Officer: "hq-wang", Amendment: 1, Outcome: AmendmentConsent})
	r := h.run(biological(fixture()))

	require.True(t, h.accepted["consent"])
	require.Equal(t, StateRefused, r.State)
	require.Equal(t, policy.StageBiologicalReview, r.Stage)
	require.Contains(t, r.Reason, "not a medical heading")
}

// Every refusal of "amend" and "decide-amendment" names the field and the reason, and changes
// nothing.
func TestAmendmentRefusals(t *testing.T) {
	removed := Amendment{RemoveLines: []string{"9"}, Reason: "x"}
	addBio := biological(fixture()).Lines[1]
	for _, tc := range []struct {
		name    string
		setup   func(c *clearance)
		request string
		payload any
		want    string
	}{
		{"no reason", nil, UpdateAmend, Amendment{Documents: shortShipment().Documents}, "reason: required to amend"},
		{"nothing to change", nil, UpdateAmend, Amendment{Reason: "x"}, "lines: the amendment changes no line"},
		{"unknown line removed", nil, UpdateAmend, removed, `removeLines[0]: the declaration has no line "9"`},
		{"line without ID", nil, UpdateAmend, Amendment{Lines: []declaration.Line{{Quantity: 1}}, Reason: "x"}, "lines[0].id: missing"},
		{"changes nothing", nil, UpdateAmend, Amendment{Documents: fixture().Documents[:1], Reason: "x"}, "changes nothing"},
		{"does not validate", nil, UpdateAmend, Amendment{Lines: []declaration.Line{{ID: "1", HSCode: "12", Quantity: -1}}, Reason: "x"},
			"the amended declaration does not validate"},
		{"unknown field", nil, UpdateAmend, map[string]any{"reason": "x", "destination": "DE"}, `unknown field "destination"`},
		{"adds the biological review late", func(c *clearance) { c.Stage = policy.StageCertificationCheck }, UpdateAmend,
			Amendment{Lines: []declaration.Line{addBio}, Reason: "x"}, "would add the biological review"},
		{"another awaits consent", propose, UpdateAmend, shortShipment(), "amendment 1 awaits an officer's consent"},
		{"too many", func(c *clearance) {
			for i := 0; i < MaxAmendments; i++ {
				c.Amendments = append(c.Amendments, AmendmentRecord{Version: i + 1, Status: AmendmentApplied})
			}
		}, UpdateAmend, shortShipment(), "amended 10 times"},
		{"not awaiting an officer", func(c *clearance) { c.phase = PhaseChecking }, UpdateAmend, shortShipment(),
			"amended only while the clearance awaits an officer's decision"},
		{"nothing to decide", nil, UpdateDecideAmendment, AmendmentDecision{Officer: "doc-li", Amendment: 1, Outcome: AmendmentConsent},
			"amendment: no amendment awaits consent"},
		{"wrong number", propose, UpdateDecideAmendment, AmendmentDecision{Officer: "doc-li", Amendment: 2, Outcome: AmendmentConsent},
			"amendment: 2 is not the amendment that awaits consent, 1"},
		{"officer lacks the role", propose, UpdateDecideAmendment, AmendmentDecision{Officer: "hq-wang", Amendment: 1, Outcome: AmendmentConsent},
			`officer: "hq-wang" does not hold the role`},
		{"held by another", func(c *clearance) {
			propose(c)
			c.Claim = &Claim{Officer: "doc-chen", Stage: c.Stage, At: start}
		}, UpdateDecideAmendment, AmendmentDecision{Officer: "doc-li", Amendment: 1, Outcome: AmendmentConsent}, "held by doc-chen"},
		{"refusal without reason", propose, UpdateDecideAmendment, AmendmentDecision{Officer: "doc-li", Amendment: 1, Outcome: AmendmentRefuse},
			"reason: required to refuse an amendment"},
		{"unknown outcome", propose, UpdateDecideAmendment, AmendmentDecision{Officer: "doc-li", Amendment: 1, Outcome: "maybe"},
			`outcome: "maybe" is not consent or refuse`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fuzzClearance(uint8(indexOf(allPhases, PhaseAwaitingOfficer)), 0, 0)
			c.decl = fixture()
			if tc.setup != nil {
				tc.setup(c)
			}
			raw := mustJSON(t, tc.payload)
			before := snapshot(t, c)
			var err error
			if tc.request == UpdateAmend {
				err = c.validateAmendUpdate(raw, nil)
			} else {
				err = c.validateDecideAmendmentUpdate(raw, nil)
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			require.Equal(t, before, snapshot(t, c), "a refused request changes nothing")
		})
	}
}

// Only the clearance's own exporter amends; only an officer consents.
func TestAmendmentCallers(t *testing.T) {
	c := fuzzClearance(uint8(indexOf(allPhases, PhaseAwaitingOfficer)), 0, 0)
	c.decl = fixture()
	raw := mustJSON(t, shortShipment())
	other := &Principal{Subject: "rival", Roles: []string{RoleExporter}, Exporter: "9999999999"}
	require.ErrorContains(t, c.validateAmendUpdate(raw, other), "permission denied")
	officer := &Principal{Subject: "doc-li", Roles: []string{RoleOfficer}}
	require.ErrorContains(t, c.validateAmendUpdate(raw, officer), "permission denied")
	own := &Principal{Subject: "desk", Roles: []string{RoleExporter}, Exporter: c.decl.Exporter.Code}
	require.NoError(t, c.validateAmendUpdate(raw, own))

	propose(c)
	consent := mustJSON(t, map[string]any{"officer": "doc-chen", "amendment": 1, "outcome": "consent"})
	require.ErrorContains(t, c.validateDecideAmendmentUpdate(consent, officer), "is not the caller")
	require.NoError(t, c.validateDecideAmendmentUpdate(mustJSON(t, map[string]any{"amendment": 1, "outcome": "consent"}), officer))
}

func invalidDeclaration(msg string) error {
	return temporal.NewNonRetryableApplicationError(msg, activities.ErrInvalidDeclaration, nil)
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return raw
}

func indexOf[T comparable](xs []T, x T) int {
	for i, y := range xs {
		if y == x {
			return i
		}
	}
	return -1
}

// The shipped amendment and consent examples are accepted on the clearance they are written for.
func TestAmendmentExamples(t *testing.T) {
	read := func(path string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "examples", path))
		require.NoError(t, err)
		return b
	}
	decl, err := declaration.ParseAndValidate(read("us-n95-respirators-niosh.json"))
	require.NoError(t, err)
	var a Amendment
	require.NoError(t, declaration.Decode(read("amendments/us-n95-short-shipment.json"), &a))
	c := fuzzClearance(uint8(indexOf(allPhases, PhaseAwaitingOfficer)), 0, 0)
	c.decl = decl
	require.NoError(t, c.validateAmendUpdate(mustJSON(t, a), nil))
	paths := []string{}
	for _, ch := range declaration.Diff(decl, amended(decl, a)) {
		paths = append(paths, ch.Path)
	}
	require.Equal(t, []string{"lines[0].quantity", "lines[0].value", "documents[0].issued", "documents[0].amount",
		"documents[1].issued"}, paths)

	propose(c)
	require.NoError(t, c.validateDecideAmendmentUpdate(read("updates/decide-amendment.json"), nil))
}

// An amendment applied at once whose recheck of an earlier stage finds an error is weighed as if
// the declaration had been lodged that way: a green-lane clearance whose certification check
// awaited an officer for a warning, amended so that the certificate is clean but the invoice no
// longer matches the lines, is not released by rule; the officer of the stage decides, and an
// approval over the invoice's error needs a reason.
func TestAmendmentWhoseRecheckFindsAnErrorIsWeighedByAnOfficer(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	clean := func(in activities.CheckInput) (activities.CheckResult, error) {
		return activities.CheckResult{CheckedAt: in.On}, nil
	}
	h.onCheck(policy.StageDocumentCheck, clean, func(in activities.CheckInput) (activities.CheckResult, error) {
		return activities.CheckResult{CheckedAt: in.On, Findings: []activities.Finding{{Code: "invoice-total-mismatch",
			Severity: activities.SeverityError, Field: "documents[0].amount", Message: "the invoice does not match the lines"}}}, nil
	})
	h.onCheck(policy.StageCertificationCheck, func(in activities.CheckInput) (activities.CheckResult, error) {
		return activities.CheckResult{CheckedAt: in.On, Findings: []activities.Finding{{Code: "certificate-expiring",
			Severity: activities.SeverityWarning, Message: "the certificate expires in 10 days"}}}, nil
	}, clean)
	var during Status
	h.send(time.Hour, "amend", UpdateAmend, shortShipment())
	h.env.RegisterDelayedCallback(func() { during = h.status() }, 2*time.Hour)
	cert := Decision{Stage: policy.StageCertificationCheck, Officer: "cert-liu", Outcome: OutcomeApprove}
	h.decide(3*time.Hour, "bare", cert)
	cert.Reason = "the freight is invoiced apart; the goods invoice matches"
	h.decide(4*time.Hour, "reasoned", cert)
	r := h.run(fixture())

	require.True(t, h.accepted["amend"], "%v", h.rejections["amend"])
	require.Equal(t, PhaseAwaitingOfficer, during.Phase, "the officer weighs what the recheck found")
	require.ErrorContains(t, h.rejections["bare"], "invoice-total-mismatch")
	require.True(t, h.accepted["reasoned"])
	require.Equal(t, StateReleased, r.State)
	var officers []string
	for _, d := range r.Decisions {
		if d.Via != ViaAutomatic {
			officers = append(officers, d.Officer)
		}
	}
	require.Equal(t, []string{"cert-liu"}, officers)
}
