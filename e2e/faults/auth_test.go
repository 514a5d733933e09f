package faults

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.uber.org/zap"

	"github.com/medsupply/customs/auth"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/embedded"
	"github.com/medsupply/customs/internal/testport"
	"github.com/medsupply/customs/logging"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

// TestWorkerKilledWithCallersVerified is TestTwoWorkersOneKilled on a server that verifies
// every caller: the two worker processes sign in with their own worker tokens, read from files
// (--api-key-file), an officer's token decides the yellow clearances, and one worker is
// SIGKILLed mid-run. Every clearance ends released with exactly one notice, every decision is
// recorded as its verified officer's, and the activities ran under the workers' identities.
func TestWorkerKilledWithCallersVerified(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the activity timeout of work a killed worker held (about a minute)")
	}
	t.Parallel()
	began := time.Now()
	const ns = "verified"
	dev, err := auth.StartDev(t.TempDir(), "127.0.0.1", testport.One(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dev.Close() })
	s, err := embedded.Start(ctxFor(t, time.Minute), embedded.Config{InMemory: true, GRPCPort: testport.One(t), DisableUI: true,
		Namespace: ns, Logger: zap.NewNop(), Auth: dev.Server(ns)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	address := s.FrontendAddress()
	as := func(p workflows.Principal) client.Client {
		t.Helper()
		c, err := client.DialContext(ctxFor(t, conditionTimeout), client.Options{HostPort: address, Namespace: ns,
			HeadersProvider: dev.Headers(p), Logger: logging.NewSDKLogger(zap.NewNop())})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	admin := as(workflows.Principal{Subject: "ops-1", Roles: []string{workflows.RoleAdmin}})
	officer := as(workflows.Principal{Subject: "doc-li", Roles: []string{workflows.RoleOfficer}})
	tokenFile := func(subject string) string {
		t.Helper()
		tok, err := dev.Issuer.Token(workflows.Principal{Subject: subject, Roles: []string{workflows.RoleWorker}}, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), subject+".token")
		if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}

	// A worker may not change its deployment: as a cluster's setup does, an administrator makes
	// the workers' build current before they start.
	build := worker.WorkerDeploymentVersion{DeploymentName: connect.DefaultDeploymentName, BuildID: "verified-1"}
	if r, err := connect.MakeCurrent(ctxFor(t, conditionTimeout), admin, build, connect.CurrentIfNone, true); err != nil || !r.Made {
		t.Fatalf("make the workers' build current: %+v, %v", r, err)
	}
	dataDir := t.TempDir()
	doomed := startWorker(t, address, ns, dataDir, "doomed", "--api-key-file", tokenFile("worker-doomed"), "--tls=false", "--build-id", build.BuildID)
	survivor := startWorker(t, address, ns, dataDir, "survivor", "--api-key-file", tokenFile("worker-survivor"), "--tls=false", "--build-id", build.BuildID)
	awaitPolling(t, admin, doomed)
	awaitPolling(t, admin, survivor)
	reg := openRegister(t, filepath.Join(dataDir, "releases.db"))

	const green, yellow = 20, 4
	ids := submitAll(t, admin, greenThenYellow(t, green, yellow)...)
	out := awaitResults(admin, ids, recoveryTimeout)
	decided := decideAll(officer, ids[green:], workflows.Decision{Stage: policy.StageDocumentCheck, Outcome: workflows.OutcomeApprove}, recoveryTimeout)
	k := killWorker(t, admin, doomed, reg, out, ids, 3)
	if k.running == 0 {
		t.Errorf("the kill found no clearance running: %v", k)
	}

	results := out.wait(t)
	decided.wait(t)
	assertReleasedOnce(t, reg, ids, results)
	for _, ref := range ids[green:] {
		var byOfficer []workflows.DecisionRecord
		for _, d := range results[ref].Decisions {
			if d.Via != workflows.ViaAutomatic {
				byOfficer = append(byOfficer, d)
			}
		}
		if len(byOfficer) != 1 || byOfficer[0].Officer != "doc-li" || !byOfficer[0].Verified || byOfficer[0].Via != workflows.ViaUpdate {
			t.Errorf("%s: officers' decisions %+v, want one by doc-li through the update, verified (its officer left to the token)", ref.Declaration, byOfficer)
		}
	}
	if !survivor.running() {
		t.Errorf("the surviving worker exited: %v", survivor.err)
	}
	t.Logf("covered: callers verified; %d clearances (%d green, %d decided by doc-li's token) on 2 workers with their own tokens, 1 SIGKILL %v",
		len(ids), green, yellow, k)
	t.Logf("covered: all %d released, %d notices, none twice; %s", len(ids), len(ids), since(began))
}
