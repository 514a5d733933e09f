package audit

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"

	"github.com/medsupply/customs/workflows"
)

func trailOf(t *testing.T, name string) *Trail {
	t.Helper()
	tr, err := BuildTrail(golden(t, name), Converters{})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// rowsOf returns the rows of one kind, in order.
func rowsOf(tr *Trail, kind string) []Row {
	var out []Row
	for _, r := range tr.Rows {
		if r.Kind == kind {
			out = append(out, r)
		}
	}
	return out
}

func last(tr *Trail) Row { return tr.Rows[len(tr.Rows)-1] }

// inOrder checks that the rows appear in event order and that the trail holds every kind of
// step at least where expected.
func inOrder(t *testing.T, tr *Trail) {
	t.Helper()
	for i := 1; i < len(tr.Rows); i++ {
		if tr.Rows[i].EventID < tr.Rows[i-1].EventID || tr.Rows[i].Time.Before(tr.Rows[i-1].Time) {
			t.Errorf("row %d (event %d) comes after event %d", i, tr.Rows[i].EventID, tr.Rows[i-1].EventID)
		}
	}
	first := tr.Rows[0]
	if first.Kind != RowSubmission || first.EventID != 1 || !strings.HasPrefix(first.Actor, "exporter ") {
		t.Errorf("first row %+v is not the exporter's submission", first)
	}
	if d, _ := Digest(golden(t, tr.name())); tr.Digest != d || tr.DigestAlgorithm != DigestAlgorithm {
		t.Errorf("trail digest %s (%s), want %s", tr.Digest, tr.DigestAlgorithm, d)
	}
}

// name maps a trail back to its golden file through its declaration.
func (t *Trail) name() string {
	return map[string]string{
		"JH-2020-US-0512": "yellow-approve", "JH-2020-US-0513": "reject", "RW-2020-US-0506": "request-supply",
		"JH-2020-US-0515": "escalation", "JH-2020-US-0517": "signal-decision", "HX-2020-ES-0428": "invalid-certificate",
		"LB-2020-DE-0416": "withdrawal", "JH-2020-US-0516": "reroute", "JH-2020-US-0514": "request-lapse",
		"JH-2020-US-0518": "extension", "JH-2020-US-0521": "amend-before-review", "LB-2020-DE-0418": "amend-with-consent",
		"JH-2020-US-0522": "appeal-upheld",
	}[t.DeclarationID]
}

func TestTrailOfficerApproves(t *testing.T) {
	tr := trailOf(t, "yellow-approve")
	inOrder(t, tr)
	if tr.WorkflowID != "clearance-3205960330-JH-2020-US-0512" || tr.State != "released" || !strings.HasPrefix(tr.Exporter, "3205960330 ") {
		t.Errorf("header: %s %s %s", tr.WorkflowID, tr.State, tr.Exporter)
	}
	if lane := rowsOf(tr, RowLane); len(lane) != 1 || lane[0].Outcome != "yellow lane" || !strings.Contains(lane[0].Reason, "1 of 15 declarations refused") {
		t.Errorf("lane rows %+v", lane)
	}
	d := rowsOf(tr, RowDecision)
	if len(d) != 1 || d[0].Actor != "doc-li" || d[0].What != "decide document-check (update)" || d[0].Outcome != "approve" {
		t.Errorf("decisions %+v", d)
	}
	n := rowsOf(tr, RowReleaseNotice)
	if len(n) != 1 || !strings.HasPrefix(n[0].Outcome, "notice RN-") || n[0].Actor != ActorSystem || n[0].Reason != "automatic release, yellow lane" {
		t.Errorf("release notice %+v", n)
	}
	if o := last(tr); o.Kind != RowOutcome || o.Outcome != "released" || !strings.Contains(o.Reason, "within the 20d standard") {
		t.Errorf("outcome %+v", o)
	}
}

func TestTrailOfficerRejects(t *testing.T) {
	tr := trailOf(t, "reject")
	inOrder(t, tr)
	const reason = "the packing list declares 4,000 cartons but the commercial invoice bills 3,600"
	d := rowsOf(tr, RowDecision)
	if len(d) != 1 || d[0].Actor != "doc-chen" || d[0].Outcome != "reject" || d[0].Reason != reason {
		t.Errorf("decisions %+v", d)
	}
	if n := rowsOf(tr, RowNotification); len(n) != 1 || !strings.Contains(n[0].What, "refused") || !strings.Contains(n[0].Reason, reason) {
		t.Errorf("notifications %+v", n)
	}
	if len(rowsOf(tr, RowReleaseNotice)) != 0 {
		t.Error("a refused clearance has a release notice")
	}
	if o := last(tr); o.Outcome != "refused" || !strings.HasPrefix(o.Reason, reason) || o.What != "clearance ended at document-check" {
		t.Errorf("outcome %+v", o)
	}
}

func TestTrailRequestAndSupply(t *testing.T) {
	tr := trailOf(t, "request-supply")
	inOrder(t, tr)
	checks := rowsOf(tr, RowCheck)
	if len(checks) < 2 || checks[0].Outcome != "1 finding(s), worst error" ||
		!strings.Contains(checks[0].Reason, "missing-quality-declaration") || checks[1].Outcome != "no findings" {
		t.Errorf("document checks %+v", checks)
	}
	d := rowsOf(tr, RowDecision)
	if len(d) != 2 || d[0].Actor != "doc-li" || d[0].Outcome != "request-information" ||
		!strings.Contains(d[0].Reason, "quality declaration") || !strings.HasSuffix(d[0].Reason, "requested: quality-declaration") ||
		d[1].Actor != "doc-li" || d[1].Outcome != "approve" {
		t.Errorf("decisions %+v", d)
	}
	s := rowsOf(tr, RowSupply)
	if len(s) != 1 || s[0].Actor != "exporter 4403960602" || s[0].Outcome != "1 document(s), 0 certificate(s)" ||
		!strings.HasPrefix(s[0].Reason, "quality-declaration QD-RW-2020-0506") {
		t.Errorf("supplies %+v", s)
	}
	// The supply comes between the request and the approval, and the check runs again after it.
	if !(d[0].EventID < s[0].EventID && s[0].EventID < checks[1].EventID && checks[1].EventID < d[1].EventID) {
		t.Errorf("order: request %d, supply %d, check %d, approval %d", d[0].EventID, s[0].EventID, checks[1].EventID, d[1].EventID)
	}
	if o := last(tr); o.Outcome != "released" {
		t.Errorf("outcome %+v", o)
	}
}

func TestTrailEscalation(t *testing.T) {
	tr := trailOf(t, "escalation")
	inOrder(t, tr)
	esc := rowsOf(tr, RowEscalation)
	if len(esc) != 2 || esc[0].What != "stage document-check overran its allowance (2s)" ||
		esc[0].Outcome != "escalated to supervisor sup-huang" || esc[1].What != "SlaBreached set" || esc[1].Outcome != "true" {
		t.Fatalf("escalation rows %+v", esc)
	}
	d := rowsOf(tr, RowDecision)
	if len(d) != 1 || d[0].Actor != "sup-huang" || d[0].Outcome != "approve" || d[0].EventID < esc[1].EventID {
		t.Errorf("the supervisor's decision after the escalation: %+v", d)
	}
	if o := last(tr); o.Outcome != "released" {
		t.Errorf("outcome %+v", o)
	}
}

func TestTrailSignalsAppliedAndRefused(t *testing.T) {
	tr := trailOf(t, "signal-decision")
	inOrder(t, tr)
	d := rowsOf(tr, RowDecision)
	if len(d) != 2 ||
		d[0].Actor != "cert-liu" || d[0].What != "decide document-check (signal)" || d[0].Outcome != "approve, "+SignalRefused ||
		d[1].Actor != "doc-li" || d[1].Outcome != "approve, "+SignalApplied {
		t.Errorf("decisions %+v", d)
	}
}

func TestTrailRunningClearance(t *testing.T) {
	h := golden(t, "signal-decision")
	// Cut the history after the second signal's workflow task: the clearance still runs.
	var cut int
	for i, e := range h.GetEvents() {
		if e.GetWorkflowExecutionSignaledEventAttributes() != nil {
			cut = i + 1
		}
	}
	running := &historypb.History{Events: h.GetEvents()[:cut]}
	tr, err := BuildTrail(running, Converters{})
	if err != nil {
		t.Fatal(err)
	}
	d := rowsOf(tr, RowDecision)
	if tr.State != "running" || len(d) != 2 || d[1].Outcome != "approve, "+SignalPending {
		t.Errorf("state %s, decisions %+v", tr.State, d)
	}
	if err := Replay(running, Converters{}); err != nil {
		t.Errorf("a running clearance's history must replay: %v", err)
	}
}

func TestTrailOtherPaths(t *testing.T) {
	cert := trailOf(t, "invalid-certificate")
	inOrder(t, cert)
	var refusal Row
	for _, r := range rowsOf(cert, RowCheck) {
		if strings.HasPrefix(r.Outcome, "refused by rule") {
			refusal = r
		}
	}
	if refusal.Outcome != "refused by rule (InvalidCertificate)" || !strings.Contains(refusal.Reason, "issuer-not-notified") ||
		!strings.Contains(refusal.Reason, "1282") || last(cert).Outcome != "refused" {
		t.Errorf("invalid certificate: %+v, outcome %+v", refusal, last(cert))
	}

	w := trailOf(t, "withdrawal")
	inOrder(t, w)
	if r := rowsOf(w, RowWithdrawal); len(r) != 1 || r[0].Actor != "exporter 3301960412" || r[0].Reason != "the consignee cancelled the order" ||
		last(w).Outcome != "withdrawn" || last(w).What != "clearance ended at biological-review" {
		t.Errorf("withdrawal %+v, outcome %+v", r, last(w))
	}

	ext := trailOf(t, "extension")
	inOrder(t, ext)
	if r := rowsOf(ext, RowExtension); len(r) != 1 || r[0].Actor != "sup-huang" || r[0].What != "extend document-check (update)" ||
		!strings.Contains(r[0].Outcome, "1d") || !strings.Contains(r[0].Reason, "NIOSH approval") {
		t.Errorf("extension %+v", r)
	}

	rr := trailOf(t, "reroute")
	inOrder(t, rr)
	if r := rowsOf(rr, RowReroute); len(r) != 1 || r[0].Actor != "sup-huang" || r[0].Outcome != "from the yellow to the red lane" ||
		!strings.Contains(r[0].Reason, "counterfeit") {
		t.Errorf("reroute %+v", r)
	}
	var inspector bool
	for _, d := range rowsOf(rr, RowDecision) {
		inspector = inspector || (d.Actor == "insp-sun" && d.What == "decide physical-inspection (update)")
	}
	if !inspector {
		t.Error("the rerouted clearance has no physical inspection decision")
	}

	lapse := trailOf(t, "request-lapse")
	inOrder(t, lapse)
	if r := rowsOf(lapse, RowLapse); len(r) != 1 || r[0].Outcome != "deadline passed" || last(lapse).Outcome != "lapsed" {
		t.Errorf("lapse %+v, outcome %+v", r, last(lapse))
	}
}

// The trail shows each amendment with its changes, who consented or refused and why, and the
// earlier stage's checks run again as checks, not as the stage beginning anew.
func TestTrailAmendments(t *testing.T) {
	free := trailOf(t, "amend-before-review")
	inOrder(t, free)
	r := rowsOf(free, RowAmendment)
	if len(r) != 1 || r[0].Actor != "exporter 3205960330" || !strings.HasPrefix(r[0].Outcome, "amendment 1 applied: ") ||
		!strings.Contains(r[0].Outcome, "lines[0].quantity: 100000 -> 90000") || !strings.Contains(r[0].Reason, "short shipment") {
		t.Errorf("free amendment rows %+v", r)
	}

	consent := trailOf(t, "amend-with-consent")
	inOrder(t, consent)
	r = rowsOf(consent, RowAmendment)
	if len(r) != 4 {
		t.Fatalf("amendment rows %+v, want two amendments and two decisions on them", r)
	}
	if !strings.HasPrefix(r[0].Outcome, "amendment 1 awaiting-consent: documents[1].issued") ||
		r[1].Actor != "hq-wang" || r[1].What != "decide amendment 1 (update)" || r[1].Outcome != workflows.AmendmentRefuse ||
		!strings.Contains(r[1].Reason, "dated before the invoice") ||
		!strings.HasPrefix(r[2].Outcome, "amendment 2 awaiting-consent") || r[3].Outcome != workflows.AmendmentConsent {
		t.Errorf("amendment rows %+v", r)
	}
	var stages, rechecks []string
	for _, row := range consent.Rows {
		switch {
		case row.Kind == RowStage:
			stages = append(stages, row.What)
		case strings.HasPrefix(row.What, workflows.RecheckSummaryPrefix):
			rechecks = append(rechecks, row.What)
		}
	}
	if len(stages) != 4 || len(rechecks) != 1 {
		t.Errorf("stage rows %q and rechecks %q, want four stages and the document check run again once", stages, rechecks)
	}
}

// The trail of a run an appeal reopened tells the whole story: the refusal carried from the
// refused run, the exporter's appeal and grounds, the supervisor who upheld it, the reopening, and
// the stage decided again.
func TestTrailAppeal(t *testing.T) {
	tr := trailOf(t, "appeal-upheld")
	inOrder(t, tr)
	var refusal Row
	for _, r := range rowsOf(tr, RowDecision) {
		if r.Outcome == string(workflows.OutcomeReject) {
			refusal = r
		}
	}
	if refusal.Actor != "doc-chen" || !strings.Contains(refusal.What, "carried from an earlier run") {
		t.Errorf("the refusal carried from the refused run: %+v", refusal)
	}
	a := rowsOf(tr, RowAppeal)
	if len(a) != 3 || a[0].Actor != "exporter 3205960330" || a[0].Outcome != "lodged" || !strings.Contains(a[0].Reason, "cartons hold 25") ||
		!strings.Contains(a[0].What, "(by doc-chen)") || a[1].Actor != "sup-huang" || a[1].Outcome != "upheld" ||
		a[2].Outcome != "reopened" || a[2].What != "the clearance reopens at document-check" {
		t.Errorf("appeal rows %+v", a)
	}
	if o := last(tr); o.Outcome != string(workflows.StateReleased) {
		t.Errorf("outcome %+v", o)
	}
}

// TestDamagedHistoriesDoNotPanic strips the attributes of one event at a time, as a damaged or
// hand-edited file would have them, and reads the trail and replays: errors are fine, panics not.
func TestDamagedHistoriesDoNotPanic(t *testing.T) {
	for _, name := range []string{"request-supply", "signal-decision"} {
		n := len(golden(t, name).GetEvents())
		for i := 0; i < n; i++ {
			h := golden(t, name)
			h.Events[i].Attributes = nil
			h.Events[i].UserMetadata = nil
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("%s without the attributes of event %d: panic %v", name, i+1, p)
					}
				}()
				_, _ = BuildTrail(h, Converters{})
				_ = Replay(h, Converters{})
			}()
		}
	}
}

// TestTrailStagesMatchTheTimelineInEveryRelease reads the trail of every golden history, of this
// release and of the earlier ones: its "stage begins" rows name the stages of the clearance's own
// timeline, in order, whether the stages were announced by search attributes (first release) or
// found from the checks they scheduled (since quiet-automated-stages).
func TestTrailStagesMatchTheTimelineInEveryRelease(t *testing.T) {
	for _, f := range goldenFiles(t) {
		rel, _ := filepath.Rel(goldenDir, f)
		t.Run(rel, func(t *testing.T) {
			h, err := ReadHistoryFile(f)
			if err != nil {
				t.Fatal(err)
			}
			tr, err := BuildTrail(h, Converters{})
			if err != nil {
				t.Fatal(err)
			}
			events := h.GetEvents()
			var r workflows.Result
			if err := converter.GetDefaultDataConverter().FromPayloads(
				events[len(events)-1].GetWorkflowExecutionCompletedEventAttributes().GetResult(), &r); err != nil {
				t.Fatal(err)
			}
			var want, got []string
			for _, s := range r.Timeline {
				want = append(want, "stage "+string(s.Stage)+" begins")
			}
			for _, row := range rowsOf(tr, RowStage) {
				got = append(got, row.What)
			}
			if strings.Join(got, ", ") != strings.Join(want, ", ") {
				t.Errorf("stage rows %q, timeline %q", got, want)
			}
			if o := last(tr); o.Kind != RowOutcome || o.Outcome != string(r.State) {
				t.Errorf("last row %+v, want the outcome %s", o, r.State)
			}
		})
	}
}

// A reason with a terminal escape, a recorded history may hold it from before the validators
// refused them, is printed escaped: the auditor's terminal does not obey it.
func TestTrailTableEscapesControlCharacters(t *testing.T) {
	tr := &Trail{WorkflowID: "clearance-X", DeclarationID: "X\x1b[2J", Rows: []Row{{
		Kind: RowDecision, Actor: "doc-li\u202e", What: "decide document-check", Outcome: "reject",
		Reason: "forged\x1b[31m invoice\x00",
	}}}
	var buf bytes.Buffer
	if err := tr.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.ContainsAny(out, "\x1b\x00\u202e") {
		t.Errorf("the table holds raw control characters: %q", out)
	}
	for _, want := range []string{`X\x1b[2J`, `doc-li\u202e`, `forged\x1b[31m invoice\x00`} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

// TestTrailOfWorkManagement: the trail names who claimed, noted and reassigned the stage, who
// held it after each step, and the registration the clearance got at acceptance.
func TestTrailOfWorkManagement(t *testing.T) {
	tr := trailOf(t, "claim-reassign-note")
	var work []string
	registration := ""
	for _, r := range tr.Rows {
		switch r.Kind {
		case RowWork:
			work = append(work, r.Actor+" | "+r.What+" | "+r.Outcome+" | "+r.Reason)
		case RowRegistration:
			registration = r.Outcome
		}
	}
	want := []string{
		"doc-li | claim document-check (update) | held by doc-li | ",
		"doc-li | note (update) | noted | NIOSH approval TC-84A-1234 to be checked against the CDC list",
		"sup-huang | reassign document-check (update) | held by doc-chen | doc-li is on leave from tomorrow",
	}
	if strings.Join(work, "\n") != strings.Join(want, "\n") {
		t.Errorf("work rows:\n%s\nwant:\n%s", strings.Join(work, "\n"), strings.Join(want, "\n"))
	}
	if !strings.HasPrefix(registration, "registration ED-") {
		t.Errorf("registration row %q", registration)
	}
}

// TestTrailOfHolds: the trail names who held the clearance for whom, and who lifted each hold
// with which disposition.
func TestTrailOfHolds(t *testing.T) {
	var rows []string
	for _, r := range trailOf(t, "agency-hold").Rows {
		if r.Kind == RowHold {
			rows = append(rows, r.Actor+" | "+r.What+" | "+r.Outcome)
		}
	}
	want := []string{
		"sup-huang | hold (update) | held for customs",
		"sup-huang | hold (update) | held for NMPA",
		"sup-huang | lift the hold of customs (update) | may-proceed",
		"sup-huang | lift the hold of NMPA (update) | may-proceed",
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("hold rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
}
