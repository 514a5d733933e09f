package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/starter/cli"
	"github.com/medsupply/customs/workflows"
)

// TestAmendmentThroughTheStarter: the exporter amends a yellow-lane declaration with the starter
// while it waits for its document officer, before any officer has started (applied at once, the
// document check runs again); a bad amendment is refused naming the field and changes nothing;
// once doc-li has claimed the stage, an amendment awaits consent and holds the stage's decision
// until doc-li consents; the clearance is released on the amended declaration.
func TestAmendmentThroughTheStarter(t *testing.T) {
	ref := submit(t, "us-n95-respirators-niosh.json")
	awaitOfficer(t, ref, policy.StageDocumentCheck)

	r := starterOn(t, ref, "amend", filepath.Join(examplesDir, "amendments", "us-n95-short-shipment.json"))
	if r.code != cli.ExitOK || !strings.Contains(r.stdout, "amendment 1 at document-check applied") {
		t.Fatalf("amend before an officer started: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	s := awaitStatus(t, ref, "the amended declaration awaiting its officer again", func(s workflows.Status) bool {
		return s.Phase == workflows.PhaseAwaitingOfficer && len(s.Timeline) > 0 && s.Timeline[0].CheckRuns == 2
	})
	if len(s.Amendments) != 1 || s.Amendments[0].Status != workflows.AmendmentApplied || len(s.Amendments[0].Changes) != 5 {
		t.Fatalf("amendments %+v, want amendment 1 applied with its five changes", s.Amendments)
	}

	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"removeLines":["7"],"reason":"line 7 is not shipped"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := starterOn(t, ref, "amend", bad); r.code != cli.ExitInvalid || !strings.Contains(r.stderr, `removeLines[0]: the declaration has no line "7"`) {
		t.Fatalf("bad amendment: exit %d, stderr %q; want exit %d naming removeLines[0]", r.code, r.stderr, cli.ExitInvalid)
	}

	if _, err := clearance.Claim(testContext(t), tc, ref, workflows.ClaimRequest{Officer: "doc-li"}); err != nil {
		t.Fatal(err)
	}
	late := filepath.Join(t.TempDir(), "late.json")
	if err := os.WriteFile(late, []byte(`{"documents":[{"type":"contract","reference":"JH-PNSS-2020-002","issued":"2020-05-03"}],`+
		`"reason":"the contract was countersigned a day later"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	r = starterOn(t, ref, "amend", late)
	if r.code != cli.ExitOK || !strings.Contains(r.stdout, "amendment 2 at document-check awaits an officer's consent") {
		t.Fatalf("amend after doc-li claimed the stage: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := starterOn(t, ref, "status"); !strings.Contains(r.stdout, "awaiting-consent") ||
		!strings.Contains(r.stdout, `documents[2].issued: "2020-05-02T00:00:00Z" -> "2020-05-03T00:00:00Z"`) {
		t.Errorf("status does not show the amendment awaiting consent with its change:\n%s", r.stdout)
	}
	_, err := decide(t, ref, workflows.Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: workflows.OutcomeApprove})
	assertRefused(t, err, "amendment 2 awaits an officer's consent")

	if rec, err := clearance.DecideAmendment(testContext(t), tc, ref, workflows.AmendmentDecision{Officer: "doc-li", Amendment: 2,
		Outcome: workflows.AmendmentConsent}); err != nil || rec.Status != workflows.AmendmentApplied {
		t.Fatalf("doc-li consents: %+v, %v", rec, err)
	}
	awaitStatus(t, ref, "the clearance awaiting doc-li after the consent", func(s workflows.Status) bool {
		return s.Phase == workflows.PhaseAwaitingOfficer && s.Timeline[0].CheckRuns == 3
	})
	approve(t, ref, policy.StageDocumentCheck, "doc-li")

	code, res := wait(t, ref)
	if code != cli.ExitOK || res.State != workflows.StateReleased {
		t.Fatalf("wait: exit %d, %s at %s: %s", code, res.State, res.Stage, res.Reason)
	}
	if len(res.Amendments) != 2 || res.Amendments[1].Officer != "doc-li" {
		t.Errorf("result amendments %+v, want two, the second consented by doc-li", res.Amendments)
	}
	assertOneNotice(t, ref, res.Notice)
	var kinds []string
	for _, n := range notified(t, ref.Declaration) {
		kinds = append(kinds, n.Kind)
	}
	if want := []string{string(activities.NotifyAmendment), string(activities.NotifyReleased)}; !slices.Equal(kinds, want) {
		t.Errorf("exporter notified %v, want %v", kinds, want)
	}
}
