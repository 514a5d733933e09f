package cluster

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/internal/uitest"
	"github.com/medsupply/customs/workflows"
)

// EnvUI is the Web UI's base URL, served by Temporal's UI server as the Compose stack's
// temporal-ui service runs it; the test skips without it.
const EnvUI = "CUSTOMS_CLUSTER_UI_URL"

// TestWebUISignsOfficersInOnTheCluster: on the cluster, the Web UI signs officers in at the
// identity provider (the browser by the issuer's name, the UI's server by the backchannel
// name), and an officer decides through it as themself, recorded verified; an exporter signed in
// the same way cannot decide.
func TestWebUISignsOfficersInOnTheCluster(t *testing.T) {
	ui := webUI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	who := newParties(t, ctx, os.Getenv(EnvAddress), os.Getenv(EnvNamespace))
	d, wid := lodgeForUI(t, ctx, who, "de-antibody-test-kits.json")

	if code, body := uitest.Anonymous(t, ui).Call(http.MethodGet, "/api/v1/namespaces/"+who.ns+"/workflows", nil); code != http.StatusUnauthorized {
		t.Errorf("the UI's API without signing in: %d %s, want 401", code, body)
	}
	officer := uitest.SignIn(t, ui, "doc-li")
	queue := url.QueryEscape("ClearanceStatus = 'awaiting-officer' AND ClearanceStage = 'document-check'")
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(300 * time.Millisecond) {
		code, body := officer.Call(http.MethodGet, "/api/v1/namespaces/"+who.ns+"/workflows?query="+queue, nil)
		if code == http.StatusOK && strings.Contains(body, wid) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the officer's queue in the UI does not list %s: %d %s", wid, code, body)
		}
	}
	exporter := uitest.SignIn(t, ui, "exporter-"+strings.ToLower(d.Exporter.Code))
	if code, refusal, _ := exporter.Decide(who.ns, wid, map[string]string{"stage": "document-check", "outcome": "approve"}); code != http.StatusForbidden ||
		!strings.Contains(refusal, `the update "decide" is not for this role`) {
		t.Errorf("an exporter deciding through the UI: %d %q", code, refusal)
	}
	if _, refusal, body := officer.Decide(who.ns, wid, map[string]string{"stage": "document-check", "outcome": "approve"}); refusal != "" {
		t.Fatalf("doc-li deciding through the UI: refused %q\n%s", refusal, body)
	}
	s, err := clearance.Status(ctx, who.reader, clearance.RefOf(d))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Decisions) != 1 || s.Decisions[0].Officer != "doc-li" || !s.Decisions[0].Verified {
		raw, _ := json.Marshal(s.Decisions)
		t.Errorf("decisions after the UI's: %s; want doc-li's, verified", raw)
	}
	// The clearance is left to its allowance: a withdrawal ends it, as its exporter.
	if err := clearance.Withdraw(ctx, who.exporter(d.Exporter.Code), clearance.RefOf(d), "test over"); err != nil {
		t.Errorf("withdraw: %v", err)
	}
}

// TestWebUISignsAgencyOfficersInOnTheCluster: a partner agency's officer signs in to the Web UI at
// the identity provider and decides the agency's review in the agency's namespace, recorded as
// theirs; customs' clearance, which asked the agency through the single window, ends refused,
// naming the agency. A customs officer signed in the same way cannot decide the agency's review,
// and the agency's officer cannot read customs' clearances nor another agency's reviews.
func TestWebUISignsAgencyOfficersInOnTheCluster(t *testing.T) {
	ui := webUI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	who := newParties(t, ctx, os.Getenv(EnvAddress), os.Getenv(EnvNamespace))
	// Face masks from a producer not on SAMR's list: SAMR's checks leave them to its officer.
	d, wid := lodgeForUI(t, ctx, who, "it-face-masks-unlisted-producer.json")
	ref := clearance.RefOf(d)
	roster, err := agency.DefaultRoster(agency.SAMR)
	if err != nil {
		t.Fatal(err)
	}
	officerID := roster.Deciders()[0]
	review := agency.WorkflowID(agency.PermitRequest{RequestID: wid + "/" + agency.SAMR + "/1"})
	reviews := who.agencyOfficer(agency.SAMR, officerID)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(300 * time.Millisecond) {
		s, err := clearance.Status(ctx, who.reader, ref)
		if err == nil && s.Lane != "" && len(s.Permits) == 0 {
			t.Skip("the cluster's workers ask no partner agency (worker --single-window): nothing for an agency's officer to decide")
		}
		var st agency.Status
		v, err := reviews.QueryWorkflow(ctx, review, "", agency.QueryStatus)
		if err == nil && v.Get(&st) == nil && st.Phase == agency.PhaseAwaitingOfficer {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SAMR's review %s does not await an officer: phase %s, %v", review, st.Phase, err)
		}
	}

	refusal := map[string]string{"officer": officerID, "outcome": string(agency.OutcomeRefuse),
		"reason": "the producer is not on the list of qualified producers"}
	customsOfficer := uitest.SignIn(t, ui, "doc-li")
	if code, why, _ := customsOfficer.Update(agency.Namespace(agency.SAMR), review, agency.UpdateDecide, refusal); code != http.StatusForbidden {
		t.Errorf("a customs officer deciding SAMR's review through the UI: %d %q, want 403", code, why)
	}
	officer := uitest.SignIn(t, ui, officerID)
	if code, body := officer.Call(http.MethodGet, "/api/v1/namespaces/"+who.ns+"/workflows", nil); code != http.StatusForbidden {
		t.Errorf("SAMR's officer listing customs' clearances through the UI: %d %s, want 403", code, clip(body))
	}
	if code, body := officer.Call(http.MethodGet, "/api/v1/namespaces/"+agency.Namespace(agency.NMPA)+"/workflows", nil); code != http.StatusForbidden {
		t.Errorf("SAMR's officer listing NMPA's reviews through the UI: %d %s, want 403", code, clip(body))
	}
	queue := url.QueryEscape("WorkflowType = 'AgencyReview' AND DeclarationId = '" + d.ID + "'")
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(300 * time.Millisecond) {
		code, body := officer.Call(http.MethodGet, "/api/v1/namespaces/"+agency.Namespace(agency.SAMR)+"/workflows?query="+queue, nil)
		if code == http.StatusOK && strings.Contains(body, review) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SAMR's queue in the UI does not list %s: %d %s", review, code, clip(body))
		}
	}
	if _, why, body := officer.Update(agency.Namespace(agency.SAMR), review, agency.UpdateDecide, refusal); why != "" {
		t.Fatalf("%s refusing SAMR's permit through the UI: refused %q\n%s", officerID, why, clip(body))
	}

	// Customs' clearance ends refused, naming SAMR and its officer.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(300 * time.Millisecond) {
		s, err := clearance.Status(ctx, who.reader, ref)
		if err == nil && s.State.Final() {
			last := s.Decisions[len(s.Decisions)-1]
			if s.State != workflows.StateRefused || last.Agency != agency.SAMR || last.Officer != officerID || last.Via != workflows.ViaAgency {
				raw, _ := json.Marshal(s.Decisions)
				t.Fatalf("the clearance ended %s with decisions %s: want refused by %s of SAMR through the single window", s.State, raw, officerID)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the clearance did not end on SAMR's refusal: %+v, %v", s.State, err)
		}
	}
}

// webUI is the Web UI's base URL; the test skips without it or without the issuer's key.
func webUI(t *testing.T) string {
	t.Helper()
	ui := os.Getenv(EnvUI)
	if ui == "" || os.Getenv(EnvIssuerKey) == "" {
		t.Skipf("no Web UI: set %s and %s, as .ci/postgres.sh does", EnvUI, EnvIssuerKey)
	}
	return ui
}

// lodgeForUI lodges the example file as its exporter, under a declaration ID of this run's own,
// and returns the declaration and its clearance's workflow ID.
func lodgeForUI(t *testing.T, ctx context.Context, who *parties, file string) (declaration.Declaration, string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", file))
	if err != nil {
		t.Fatal(err)
	}
	d, err := declaration.ParseAndValidate(b)
	if err != nil {
		t.Fatal(err)
	}
	d.ID += "-ui-" + randomSuffix(t)
	if _, err := clearance.Submit(ctx, who.exporter(d.Exporter.Code), d); err != nil {
		t.Fatal(err)
	}
	wid, err := clearance.RefOf(d).WorkflowID()
	if err != nil {
		t.Fatal(err)
	}
	return d, wid
}

// clip shortens a response body for a message.
func clip(s string) string {
	if len(s) > 400 {
		return s[:400] + "..."
	}
	return s
}
