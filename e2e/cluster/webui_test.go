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

	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/internal/uitest"
)

// EnvUI is the Web UI's base URL, served by Temporal's UI server as the Compose stack's
// temporal-ui service runs it; the test skips without it.
const EnvUI = "CUSTOMS_CLUSTER_UI_URL"

// TestWebUISignsOfficersInOnTheCluster: on the cluster, the Web UI signs officers in at the
// identity provider (the browser by the issuer's name, the UI's server by the backchannel
// name), and an officer decides through it as themself, recorded verified; an exporter signed in
// the same way cannot decide.
func TestWebUISignsOfficersInOnTheCluster(t *testing.T) {
	ui := os.Getenv(EnvUI)
	if ui == "" || os.Getenv(EnvIssuerKey) == "" {
		t.Skipf("no Web UI: set %s and %s, as .ci/postgres.sh does", EnvUI, EnvIssuerKey)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	who := newParties(t, ctx, os.Getenv(EnvAddress), os.Getenv(EnvNamespace))

	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "de-antibody-test-kits.json"))
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
