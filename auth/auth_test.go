package auth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/medsupply/customs/appeal"
	"github.com/medsupply/customs/audit"
	"github.com/medsupply/customs/auth"
	"github.com/medsupply/customs/auth/authtest"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/internal/command"
	"github.com/medsupply/customs/workflows"
)

// start starts a server that verifies every caller (authtest.Start).
func start(t *testing.T) *authtest.Stack { return authtest.Start(t) }

func example(t *testing.T, name string) declaration.Declaration {
	t.Helper()
	b, err := os.ReadFile("../examples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	d, err := declaration.ParseAndValidate(b)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// denied checks err is the server's PermissionDenied with a reason containing want.
func denied(t *testing.T, what string, err error, want string) {
	t.Helper()
	var pd *serviceerror.PermissionDenied
	if !errors.As(err, &pd) || !strings.Contains(pd.Reason, want) {
		t.Errorf("%s: %v; want PermissionDenied saying %q", what, err, want)
	}
}

// TestCallersAreVerifiedIdentities runs the roles against a real server with real signed tokens:
// each may do its own calls and no other, and the verified officer, not the payload, decides.
func TestCallersAreVerifiedIdentities(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	s := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := example(t, "de-antibody-test-kits.json") // yellow lane: the document check awaits an officer
	exporter := s.Client(t, workflows.Principal{Subject: "labor-berlin", Roles: []string{workflows.RoleExporter}, Exporter: d.Exporter.Code})
	rival := s.Client(t, workflows.Principal{Subject: "rival", Roles: []string{workflows.RoleExporter}, Exporter: "9999999999"})
	docLi := s.Client(t, workflows.Principal{Subject: "doc-li", Roles: []string{workflows.RoleOfficer}})
	auditor := s.Client(t, workflows.Principal{Subject: "audit-1", Roles: []string{workflows.RoleAuditor}})

	// An exporter lodges its own declaration, and no one else's.
	if _, err := clearance.Submit(ctx, rival, d); err == nil {
		t.Fatal("the rival exporter lodged another exporter's declaration")
	} else {
		denied(t, "rival lodges", err, `the token acts for exporter "9999999999"`)
	}
	if _, err := clearance.Submit(ctx, docLi, d); err == nil {
		t.Fatal("an officer lodged a declaration")
	}
	if _, err := clearance.Submit(ctx, exporter, d); err != nil {
		t.Fatalf("the exporter lodges its own declaration: %v", err)
	}
	id, _ := clearance.RefOf(d).WorkflowID()

	// Declaration IDs are the exporter's own: the rival lodges its own declaration under the same
	// ID as a clearance of its own, and cannot start one under the other exporter's workflow ID.
	own := d
	own.Exporter.Code = "9999999999"
	opts, err := clearance.StartOptions(own)
	if err != nil {
		t.Fatal(err)
	}
	opts.ID = id
	_, err = rival.ExecuteWorkflow(ctx, opts, workflows.WorkflowName, workflows.Input{Declaration: own})
	denied(t, "rival starts under the exporter's workflow ID", err, `is not one of exporter 9999999999's`)
	ownRun, err := clearance.Submit(ctx, rival, own)
	if err != nil {
		t.Fatalf("the rival lodges its own declaration with the same ID: %v", err)
	}
	if want := "clearance-9999999999-" + d.ID; ownRun.GetID() != want || ownRun.GetID() == id {
		t.Errorf("the rival's clearance is %s, want %s beside %s", ownRun.GetID(), want, id)
	}
	if st, err := clearance.Status(ctx, rival, clearance.RefOf(own)); err != nil || st.Exporter != own.Exporter.Code {
		t.Errorf("the rival's own status: %+v, %v", st.Exporter, err)
	}

	// Status: its exporter and customs staff; not the rival.
	var st workflows.Status
	for deadline := time.Now().Add(time.Minute); st.State != workflows.StateAwaitingOfficer; time.Sleep(100 * time.Millisecond) {
		var err error
		if st, err = clearance.Status(ctx, exporter, clearance.RefOf(d)); err != nil {
			t.Fatalf("the exporter's own status: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the clearance never awaited an officer: %+v", st)
		}
	}
	_, err = clearance.Status(ctx, rival, clearance.RefOf(d))
	denied(t, "the rival reads the status", err, "not one of exporter 9999999999's declarations")
	if _, err := clearance.Status(ctx, auditor, clearance.RefOf(d)); err != nil {
		t.Errorf("the auditor reads the status: %v", err)
	}

	approve := workflows.Decision{Stage: st.Stage, Officer: "doc-li", Outcome: workflows.OutcomeApprove}
	// The exporter cannot decide, signal a decision, read the history or list clearances.
	_, err = clearance.Decide(ctx, exporter, clearance.RefOf(d), approve)
	denied(t, "the exporter decides", err, `the update "decide" is not for this role`)
	denied(t, "the exporter signals", exporter.SignalWorkflow(ctx, id, "", workflows.SignalDecision, approve), `the signal "decision" is not for this role`)
	_, err = exporter.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: s.Namespace})
	denied(t, "the exporter lists", err, "not a call of this role")
	it := exporter.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	_, err = it.Next()
	denied(t, "the exporter reads the history", err, "not a call of this role")
	// Nor can the auditor write, or anyone but an admin terminate.
	denied(t, "the auditor signals", auditor.SignalWorkflow(ctx, id, "", workflows.SignalDecision, approve), "not for this role")
	denied(t, "the officer terminates", docLi.TerminateWorkflow(ctx, id, "", "no"), "not a call of this role")
	if _, err := auditor.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: s.Namespace}); err != nil {
		t.Errorf("the auditor lists: %v", err)
	}
	// The archive's list: the auditor passes (this namespace archives nothing, which the server
	// then says), the exporter does not.
	_, err = auditor.ListArchivedWorkflow(ctx, &workflowservice.ListArchivedWorkflowExecutionsRequest{Namespace: s.Namespace, Query: "WorkflowId = '" + id + "'"})
	var invalid *serviceerror.InvalidArgument
	if !errors.As(err, &invalid) || !strings.Contains(err.Error(), "archival") {
		t.Errorf("the auditor lists the archive: %v, want the server's answer that it archives nothing", err)
	}
	_, err = exporter.ListArchivedWorkflow(ctx, &workflowservice.ListArchivedWorkflowExecutionsRequest{Namespace: s.Namespace, Query: "WorkflowId = '" + id + "'"})
	denied(t, "the exporter lists the archive", err, "not a call of this role")

	// Work management: the exporter and the auditor may not claim or note; doc-li claims as
	// doc-li only, and a supervisor (only) reassigns.
	_, err = clearance.Claim(ctx, exporter, clearance.RefOf(d), workflows.ClaimRequest{})
	denied(t, "the exporter claims", err, `the update "claim" is not for this role`)
	_, err = clearance.AddNote(ctx, auditor, clearance.RefOf(d), workflows.Note{Officer: "audit-1", Text: "seen"})
	denied(t, "the auditor notes", err, `the update "note" is not for this role`)
	_, err = clearance.Reassign(ctx, docLi, clearance.RefOf(d), workflows.Reassignment{Officer: "doc-chen", Reason: "x"})
	denied(t, "an officer reassigns", err, `the update "reassign" is not for this role`)
	_, err = clearance.PlaceHold(ctx, docLi, clearance.RefOf(d), workflows.Hold{Reason: "x"})
	denied(t, "an officer holds", err, `the update "hold" is not for this role`)
	_, err = clearance.LiftHold(ctx, exporter, clearance.RefOf(d), workflows.Lift{Disposition: workflows.DispositionMayProceed, Reason: "x"})
	denied(t, "the exporter lifts", err, `the update "lift" is not for this role`)
	var refusedClaim *clearance.RefusedError
	if _, err := clearance.Claim(ctx, docLi, clearance.RefOf(d), workflows.ClaimRequest{Officer: "doc-chen"}); !errors.As(err, &refusedClaim) ||
		!strings.Contains(refusedClaim.Reason, `you are signed in as "doc-li"`) {
		t.Fatalf("doc-li claiming as doc-chen: %v", err)
	}
	if claim, err := clearance.Claim(ctx, docLi, clearance.RefOf(d), workflows.ClaimRequest{}); err != nil || claim.Holder != "doc-li" {
		t.Fatalf("doc-li claims: %+v, %v", claim, err)
	}
	if n, err := clearance.AddNote(ctx, docLi, clearance.RefOf(d), workflows.Note{Text: "invoice and packing list agree"}); err != nil || n.Officer != "doc-li" {
		t.Fatalf("doc-li notes: %+v, %v", n, err)
	}
	// Amendments: only the exporter amends, and only its own declaration; once doc-li has claimed
	// the stage, the amendment awaits consent, which only an officer gives, as themself.
	fix := workflows.Amendment{Documents: []declaration.Document{{Type: declaration.DocPackingList, Reference: "PL-AMENDED-1"}},
		Reason: "the packing list with the carton numbers"}
	_, err = clearance.Amend(ctx, docLi, clearance.RefOf(d), fix)
	denied(t, "an officer amends", err, `the update "amend" is not for this role`)
	_, err = clearance.Amend(ctx, rival, clearance.RefOf(d), fix)
	denied(t, "the rival amends", err, "not one of exporter 9999999999's declarations")
	amendment, err := clearance.Amend(ctx, exporter, clearance.RefOf(d), fix)
	if err != nil || amendment.Status != workflows.AmendmentAwaitingConsent || amendment.By == "" {
		t.Fatalf("the exporter amends after an officer started: %+v, %v; want it to await consent, from the verified exporter", amendment, err)
	}
	_, err = clearance.DecideAmendment(ctx, exporter, clearance.RefOf(d), workflows.AmendmentDecision{Amendment: 1, Outcome: workflows.AmendmentConsent})
	denied(t, "the exporter consents", err, `the update "decide-amendment" is not for this role`)
	if rec, err := clearance.DecideAmendment(ctx, docLi, clearance.RefOf(d),
		workflows.AmendmentDecision{Amendment: amendment.Version, Outcome: workflows.AmendmentConsent}); err != nil ||
		rec.Officer != "doc-li" || rec.Status != workflows.AmendmentApplied {
		t.Fatalf("doc-li consents: %+v, %v", rec, err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if st, err = clearance.Status(ctx, auditor, clearance.RefOf(d)); err == nil && st.Phase == workflows.PhaseAwaitingOfficer {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the amended clearance did not await its officer again: %+v, %v", st.Phase, err)
		}
	}
	// Customs' internal work is not the exporter's to read: the auditor sees the claim and the
	// note, the exporter neither.
	if st, err := clearance.Status(ctx, auditor, clearance.RefOf(d)); err != nil || st.Claim == nil || len(st.Work) != 2 {
		t.Errorf("the auditor's status: claim %+v, work %+v, %v", st.Claim, st.Work, err)
	}
	if st, err := clearance.Status(ctx, exporter, clearance.RefOf(d)); err != nil || st.Claim != nil || len(st.Work) != 0 {
		t.Errorf("the exporter's status shows customs' work: claim %+v, work %+v, %v", st.Claim, st.Work, err)
	}

	// doc-li may not decide as doc-chen; deciding without naming an officer decides as doc-li.
	_, err = clearance.Decide(ctx, docLi, clearance.RefOf(d), workflows.Decision{Stage: st.Stage, Officer: "doc-chen", Outcome: workflows.OutcomeApprove})
	var refused *clearance.RefusedError
	if !errors.As(err, &refused) || !strings.Contains(refused.Reason, `you are signed in as "doc-li"`) {
		t.Fatalf("doc-li deciding as doc-chen: %v", err)
	}
	rec, err := clearance.Decide(ctx, docLi, clearance.RefOf(d), workflows.Decision{Stage: st.Stage, Outcome: workflows.OutcomeApprove})
	if err != nil || rec.Officer != "doc-li" || !rec.Verified {
		t.Fatalf("doc-li decides: %+v, %v; want a decision verified as doc-li's", rec, err)
	}

	// The release, by its officer; then the exporter learns the outcome without reading the
	// history (which it may not), and the rival does not.
	clearance.PollInterval = 50 * time.Millisecond
	// Each stage that awaits an officer is decided by the first officer it offers, as themself.
	officers := map[string]client.Client{}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		st, err := clearance.Status(ctx, auditor, clearance.RefOf(d))
		if err != nil {
			t.Fatal(err)
		}
		if st.State.Final() {
			break
		}
		if st.State == workflows.StateAwaitingOfficer && st.Waiting != nil && len(st.Waiting.Officers) > 0 {
			who := st.Waiting.Officers[0]
			if officers[who] == nil {
				officers[who] = s.Client(t, workflows.Principal{Subject: who, Roles: []string{workflows.RoleOfficer}})
			}
			if _, err := clearance.Decide(ctx, officers[who], clearance.RefOf(d), workflows.Decision{Stage: st.Stage, Outcome: workflows.OutcomeApprove}); err != nil {
				t.Fatalf("%s approves %s: %v", who, st.Stage, err)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the clearance did not end: %s at %s", st.State, st.Stage)
		}
	}
	res, err := clearance.Wait(ctx, exporter, clearance.RefOf(d))
	if err != nil || res.State != workflows.StateReleased || res.Notice == nil {
		t.Fatalf("the exporter waits for its clearance: %+v, %v", res.State, err)
	}
	_, err = clearance.Wait(ctx, rival, clearance.RefOf(d))
	denied(t, "the rival waits for another exporter's clearance", err, "not one of exporter 9999999999's declarations")

	// The history keeps the verified caller with the accepted update.
	found := false
	var events []*historypb.HistoryEvent
	hist := s.ClientWith(t, s.Token(t, workflows.Principal{Subject: "audit-1", Roles: []string{workflows.RoleAuditor}}, time.Hour)).
		GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for hist.HasNext() {
		e, err := hist.Next()
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
		if a := e.GetWorkflowExecutionUpdateAcceptedEventAttributes(); a != nil {
			p, err := workflows.DecodePrincipal(a.GetAcceptedRequest().GetInput().GetHeader().GetFields())
			found = found || (err == nil && p != nil && p.Subject == "doc-li")
		}
	}
	if !found {
		t.Error("the accepted decision's request in the history carries no verified caller doc-li")
	}
	// The auditor's trail names every decision's verified officer.
	trail, err := audit.BuildTrail(&historypb.History{Events: events}, audit.Converters{})
	if err != nil {
		t.Fatal(err)
	}
	decisions := 0
	for _, r := range trail.Rows {
		if r.Kind != audit.RowDecision {
			continue
		}
		decisions++
		if r.Verified == "" || r.Verified != r.Actor {
			t.Errorf("trail row %+v: the decision's officer is not the verified caller", r)
		}
	}
	if decisions < 2 {
		t.Errorf("the trail shows %d decisions, want the document check's and the release's at least", decisions)
	}
}

// TestAppealUnderVerifiedCallers: with callers verified, the exporter appeals its own refusal and
// no other exporter's; the worker, on its own token, reads the refused clearance; an officer may
// not decide the appeal, the supervisor does, as themself, and the clearance reopens.
func TestAppealUnderVerifiedCallers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	s := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := example(t, "de-antibody-test-kits.json") // yellow lane: the document check awaits an officer
	d.ID = "LB-2020-DE-0490"
	ref := clearance.RefOf(d)
	exporter := s.Client(t, workflows.Principal{Subject: "labor-berlin", Roles: []string{workflows.RoleExporter}, Exporter: d.Exporter.Code})
	rival := s.Client(t, workflows.Principal{Subject: "rival", Roles: []string{workflows.RoleExporter}, Exporter: "9999999999"})
	docLi := s.Client(t, workflows.Principal{Subject: "doc-li", Roles: []string{workflows.RoleOfficer}})
	supervisor := s.Client(t, workflows.Principal{Subject: "sup-huang", Roles: []string{workflows.RoleOfficer, workflows.RoleSupervisor}})
	if _, err := clearance.Submit(ctx, exporter, d); err != nil {
		t.Fatal(err)
	}
	clearance.PollInterval = 50 * time.Millisecond
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		_, err := clearance.Decide(ctx, docLi, ref, workflows.Decision{Stage: "document-check", Outcome: workflows.OutcomeReject,
			Reason: "the invoice is not signed"})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("doc-li rejects: %v", err)
		}
	}
	if res, err := clearance.Wait(ctx, exporter, ref); err != nil || res.State != workflows.StateRefused {
		t.Fatalf("refused: %+v, %v", res.State, err)
	}

	_, err := clearance.Appeal(ctx, rival, ref, "not mine")
	denied(t, "the rival appeals", err, `the token acts for exporter "9999999999"`)
	if _, err := clearance.Appeal(ctx, exporter, ref, "the invoice was signed on page 2"); err != nil {
		t.Fatalf("the exporter appeals: %v", err)
	}
	var st appeal.Status
	for deadline := time.Now().Add(time.Minute); st.Phase != appeal.PhaseAwaitingSupervisor; time.Sleep(50 * time.Millisecond) {
		if st, err = clearance.AppealStatus(ctx, exporter, ref); err != nil || st.Phase == appeal.PhaseEnded || time.Now().After(deadline) {
			t.Fatalf("the worker did not admit the appeal: %+v, %v", st, err)
		}
	}
	_, err = clearance.DecideAppeal(ctx, docLi, ref, appeal.Decision{Outcome: appeal.OutcomeUphold, Reason: "x"})
	denied(t, "an officer decides the appeal", err, `the update "decide-appeal" is not for this role`)
	rec, err := clearance.DecideAppeal(ctx, supervisor, ref, appeal.Decision{Outcome: appeal.OutcomeUphold, Reason: "signed on page 2"})
	if err != nil || rec.Supervisor != "sup-huang" || !rec.Verified {
		t.Fatalf("the supervisor upholds: %+v, %v", rec, err)
	}
	if res, err := clearance.AwaitAppeal(ctx, exporter, ref); err != nil || res.Outcome != appeal.OutcomeUphold {
		t.Fatalf("the exporter reads the appeal's outcome: %+v, %v", res, err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		st, err := clearance.Status(ctx, exporter, ref)
		if err == nil && st.State == workflows.StateAwaitingOfficer && len(st.Appeals) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the clearance did not reopen: %+v, %v", st.State, err)
		}
	}
}

// TestBadTokensAreRefusedWithTheReason: expired, from another issuer, unsigned, or none.
func TestBadTokensAreRefusedWithTheReason(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	s := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	officer := workflows.Principal{Subject: "doc-li", Roles: []string{workflows.RoleOfficer}}
	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	other := auth.NewIssuer("https://elsewhere.example", authtest.Audience, key)
	foreign, err := other.Token(officer, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	valid := s.Token(t, officer, time.Hour)
	parts := strings.Split(valid, ".")
	unsigned := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	for _, c := range []struct{ name, token, want string }{
		{"expired", s.Token(t, officer, -time.Minute), "the token has expired: log in again"},
		{"another issuer", foreign, "does not verify"},
		{"unsigned", unsigned, "does not verify"},
		{"not a token", "hello", "does not verify"},
	} {
		c := c
		t.Run(c.name, func(t *testing.T) {
			cl, err := client.Dial(client.Options{HostPort: s.Server.FrontendAddress(), Namespace: s.Namespace,
				HeadersProvider: authtest.Bearer(c.token)})
			if err == nil {
				defer cl.Close()
				_, err = cl.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: s.Namespace})
			}
			denied(t, c.name, err, c.want)
		})
	}
	cl, err := client.Dial(client.Options{HostPort: s.Server.FrontendAddress(), Namespace: s.Namespace})
	if err == nil {
		defer cl.Close()
		_, err = cl.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: s.Namespace})
	}
	denied(t, "no token", err, "no token: log in")
}

// TestRevokedIdentityIsRefusedFromItsNextCall: a revoked officer's valid token is refused at
// once, with the reason; the others go on.
func TestRevokedIdentityIsRefusedFromItsNextCall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	s := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	docLi := s.Client(t, workflows.Principal{Subject: "doc-li", Roles: []string{workflows.RoleOfficer}})
	docChen := s.Client(t, workflows.Principal{Subject: "doc-chen", Roles: []string{workflows.RoleOfficer}})
	list := func(c client.Client) error {
		_, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: s.Namespace})
		return err
	}
	if err := list(docLi); err != nil {
		t.Fatalf("before: %v", err)
	}
	if err := s.Revoked.Revoke("doc-li"); err != nil {
		t.Fatal(err)
	}
	denied(t, "the revoked officer", list(docLi), "doc-li is revoked")
	if err := list(docChen); err != nil {
		t.Errorf("another officer after the revocation: %v", err)
	}
	if err := s.Revoked.Revoke("a\nb"); err == nil {
		t.Error("a subject with a newline was written to the list")
	}
}

// TestADialWithoutATokenSaysTheServerRefusedIt: the commands' connection reports a refusal at
// connect as the caller's, with the reason, at once, and exits "not permitted"; it is not a
// server that cannot be reached, and waiting for one does not retry it.
func TestADialWithoutATokenSaysTheServerRefusedIt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	s := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o := connect.Options{Address: s.Server.FrontendAddress(), Namespace: s.Namespace}
	began := time.Now()
	for _, dial := range []func() error{
		func() error { _, err := connect.Dial(ctx, o, nil); return err },
		func() error { _, err := connect.DialWait(ctx, o, nil, 30*time.Second); return err },
	} {
		err := dial()
		var denied *connect.DeniedError
		if !errors.As(err, &denied) || !strings.Contains(err.Error(), "refused this caller: no token") {
			t.Errorf("dial without a token: %v; want a DeniedError with the reason", err)
		}
		if code := command.DialCode(err); code != command.Denied {
			t.Errorf("exit code %d, want %d", code, command.Denied)
		}
	}
	if waited := time.Since(began); waited > 20*time.Second {
		t.Errorf("DialWait waited %s for a refusal", waited)
	}
}
