package workflows

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
)

// The fuzz targets feed arbitrary payloads to the real validators of every update and of the
// decision signal, on a clearance in any phase and stage. go test runs their seeds and the
// corpus in testdata/fuzz; go test -fuzz=FuzzDecide ./workflows/ (and so on) fuzzes.

var (
	allPhases = []Phase{PhaseStarting, PhaseChecking, PhaseAwaitingOfficer, PhaseDecided, PhaseAwaitingExporter,
		PhaseSupplied, PhaseWithdrawing, PhaseRerouting, PhaseReleasing, PhaseContinuing, PhaseEnding, PhaseEnded, PhaseHeld, PhaseAmended,
		PhaseRefusing, PhaseAwaitingAgency, PhaseAwaitingAgencyInformation}
	allStages = []policy.Stage{policy.StageDocumentCheck, policy.StageBiologicalReview, policy.StageCertificationCheck,
		policy.StagePhysicalInspection, policy.StageRelease}
)

// stateOf is the published status a clearance shows in each phase.
var stateOf = map[Phase]State{
	PhaseStarting: "", PhaseChecking: StateChecking, PhaseAwaitingOfficer: StateAwaitingOfficer,
	PhaseDecided: StateAwaitingOfficer, PhaseAwaitingExporter: StateAwaitingExporter, PhaseSupplied: StateAwaitingExporter,
	PhaseWithdrawing: StateAwaitingOfficer, PhaseRerouting: StateAwaitingOfficer, PhaseContinuing: StateChecking, PhaseReleasing: StateAwaitingOfficer, PhaseEnding: StateAwaitingOfficer,
	PhaseEnded: StateRefused, PhaseHeld: StateChecking, PhaseAmended: StateAwaitingOfficer,
	PhaseRefusing: StateAwaitingOfficer, PhaseAwaitingAgency: StateAwaitingAgency, PhaseAwaitingAgencyInformation: StateAwaitingExporter,
}

// fuzzClearance builds a clearance in the phase and stage the fuzzer picks; flags add an
// error-level finding (bit 0), a biological review decided by hq-wang (bit 1), a red lane (bit 2)
// and MaxInformationRequests requests already made (bit 3).
func fuzzClearance(phase, stage, flags uint8) *clearance {
	p := allPhases[int(phase)%len(allPhases)]
	c := &clearance{decl: biological(fixture()), phase: p, Carried: Carried{
		Configuration: activities.Configuration{Policy: policy.Default(), Roster: policy.DefaultRoster()},
		Lane:          policy.LaneYellow, Stage: allStages[int(stage)%len(allStages)], State: stateOf[p], Submitted: start,
	}}
	if p == PhaseStarting {
		c.Stage, c.Lane = "", ""
	} else {
		allowance := c.Configuration.Policy.Allowances.For(c.Stage)
		c.Timeline = []StageRecord{{Stage: c.Stage, Started: start, Allowance: policy.Duration(allowance), Due: start.Add(allowance)}}
		if flags&64 != 0 {
			c.Timeline[0].Extension = &ExtensionRecord{Extension: Extension{Stage: c.Stage, Supervisor: "sup-huang", By: policy.Duration(time.Hour), Reason: "x"}}
		}
		if flags&128 != 0 {
			c.Timeline[0].Escalated = true
		}
	}
	if p == PhaseAwaitingAgencyInformation {
		// NMPA needs more information: with bit 3, a document type the answer must carry.
		requested := "the lot's test report"
		if flags&8 != 0 {
			requested = string(declaration.DocRiskAssessment)
		}
		c.waiting = &Waiting{For: WaitingForExporter, Agencies: []string{"NMPA"}, Exporter: c.decl.Exporter.Code,
			Requested: []string{requested}, Reason: "NMPA: the test report of the lot", Since: start, Due: start.Add(5 * 24 * time.Hour)}
	}
	if flags&1 != 0 {
		c.Findings = append(c.Findings, StageFindings{Stage: c.Stage, Result: activities.CheckResult{Findings: []activities.Finding{{
			Code: "invoice-total-mismatch", Severity: activities.SeverityError, Message: "totals differ"}}}})
	}
	if flags&2 != 0 {
		c.Decisions = append(c.Decisions, DecisionRecord{Decision: Decision{Stage: policy.StageBiologicalReview, Officer: "hq-wang",
			Outcome: OutcomeApprove}, Via: ViaUpdate})
	}
	if flags&4 != 0 {
		c.Lane = policy.LaneRed
	}
	if flags&8 != 0 {
		for i := 0; i < MaxInformationRequests; i++ {
			c.Decisions = append(c.Decisions, DecisionRecord{Decision: Decision{Stage: c.Stage, Officer: "doc-li",
				Outcome: OutcomeRequestInformation, Reason: "more"}, Via: ViaUpdate})
		}
	}
	return c
}

// fuzzCaller is the request's verified caller that flags bits 4-5 choose: none (as without
// authentication), the officer doc-li, the supervisor sup-huang, or the clearance's exporter.
func fuzzCaller(c *clearance, flags uint8) *Principal {
	switch (flags >> 4) & 3 {
	case 1:
		return &Principal{Subject: "doc-li", Roles: []string{RoleOfficer}}
	case 2:
		return &Principal{Subject: "sup-huang", Roles: []string{RoleOfficer, RoleSupervisor}}
	case 3:
		return &Principal{Subject: "buyer-desk", Roles: []string{RoleExporter}, Exporter: c.decl.Exporter.Code}
	}
	return nil
}

// withFuzzCaller is a validator run as caller.
func withFuzzCaller(v func(json.RawMessage, *Principal) error, caller *Principal) func(json.RawMessage) error {
	return func(raw json.RawMessage) error { return v(raw, caller) }
}

// snapshot is what a validator must not change.
func snapshot(t *testing.T, c *clearance) string {
	t.Helper()
	raw, err := json.Marshal(struct {
		S Status
		D declaration.Declaration
	}{c.status(start), c.decl})
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// checkVerdict holds every validator to the same contract: it changes nothing; a refusal says
// why in a bounded message; an acceptance comes from a phase that accepts the request, of a
// payload the handler decodes to the same value, whose texts fit their bounds.
func checkVerdict[T any](t *testing.T, c *clearance, request string, raw []byte, validate func(json.RawMessage) error, texts func(T) []string) {
	t.Helper()
	before := snapshot(t, c)
	err := validate(raw)
	if after := snapshot(t, c); after != before {
		t.Fatalf("the validator of %s changed the clearance", request)
	}
	if err != nil {
		if msg := err.Error(); strings.TrimSpace(msg) == "" || len(msg) > MaxPayloadBytes {
			t.Fatalf("refusal of %d bytes: %.200q", len(msg), msg)
		}
		return
	}
	if !c.phase.Accepts(request) {
		t.Fatalf("%s accepted in phase %s", request, c.phase)
	}
	if len(raw) > MaxPayloadBytes {
		t.Fatalf("accepted a payload of %d bytes", len(raw))
	}
	v, serr := strict[T](raw, request)
	if serr != nil {
		t.Fatalf("accepted a payload that does not decode strictly: %v", serr)
	}
	if got := lenient[T](raw); !reflect.DeepEqual(got, v) {
		t.Fatalf("the handler would carry out %+v, the validator checked %+v", got, v)
	}
	for _, s := range texts(v) {
		if why := declaration.TextProblem(s, MaxReasonBytes, true); why != "" {
			t.Fatalf("accepted a text that %s", why)
		}
	}
}

func decisionSeeds(f *testing.F) {
	for _, s := range []string{
		`{"stage":"document-check","officer":"doc-li","outcome":"approve"}`,
		`{"stage":"document-check","officer":"doc-li","outcome":"approve","reason":"totals agree on page 2"}`,
		`{"stage":"document-check","officer":"doc-li","outcome":"reject","reason":"forged invoice"}`,
		`{"stage":"document-check","officer":"doc-li","outcome":"request-information","reason":"attach","requested":["quality-declaration"]}`,
		`{"stage":"release","officer":"hq-wang","outcome":"approve"}`,
		`{"stage":"release","officer":"rel-zhou","outcome":"approve"}`,
		`{"stage":"biological-review","officer":"hq-wang","outcome":"reject","reason":"\u001b[2J"}`,
		`{"stage":"document-check","officer":"doc-li","outcom":"approve"}`,
		`{"stage":"document-check","officer":"doc-li","outcome":"approve"} {}`,
		`{"stage":"document-check","officer":"doc-li","outcome":"reject","reason":"` + strings.Repeat("x", MaxReasonBytes+1) + `"}`,
		`{"stage":"document-check","officer":"nobody","outcome":"approve"}`,
		`[]`, `null`, `"approve"`, `{}`, `{"stage":1}`,
	} {
		for phase := uint8(0); phase < uint8(len(allPhases)); phase += 2 {
			f.Add([]byte(s), phase, uint8(0), uint8(phase%16))
			f.Add([]byte(s), phase, uint8(0), uint8(phase%16)|uint8(phase%4)<<4)
		}
	}
}

func FuzzDecide(f *testing.F) {
	decisionSeeds(f)
	f.Fuzz(func(t *testing.T, raw []byte, phase, stage, flags uint8) {
		c := fuzzClearance(phase, stage, flags)
		caller := fuzzCaller(c, flags)
		checkVerdict(t, c, UpdateDecide, raw, withFuzzCaller(c.validateDecide, caller), func(d Decision) []string {
			if caller != nil && asCaller(d, caller).Officer != caller.Subject {
				t.Fatalf("accepted a decision as %q from the caller %q", d.Officer, caller.Subject)
			}
			if c.Stage != d.Stage {
				t.Fatalf("accepted a decision on %s while the stage is %s", d.Stage, c.Stage)
			}
			if _, ok := c.blockingFinding(); ok && d.Outcome == OutcomeApprove && strings.TrimSpace(d.Reason) == "" {
				t.Fatalf("approved over an error-level finding without a reason")
			}
			if len(d.Requested) > MaxRequested {
				t.Fatalf("accepted %d requested documents", len(d.Requested))
			}
			return append([]string{d.Reason}, d.Requested...)
		})
	})
}

func FuzzDecisionSignal(f *testing.F) {
	decisionSeeds(f)
	f.Fuzz(func(t *testing.T, raw []byte, phase, stage, flags uint8) {
		c := fuzzClearance(phase, stage, flags)
		caller := fuzzCaller(c, flags)
		checkVerdict(t, c, SignalDecision, raw, func(raw json.RawMessage) error {
			_, err := c.validateSignal(raw, caller)
			return err
		}, func(d Decision) []string {
			if caller != nil && asCaller(d, caller).Officer != caller.Subject {
				t.Fatalf("accepted a decision signal as %q from the caller %q", d.Officer, caller.Subject)
			}
			return append([]string{d.Reason}, d.Requested...)
		})
	})
}

func FuzzReroute(f *testing.F) {
	for _, s := range []string{
		`{"officer":"sup-huang","lane":"red","reason":"intelligence on counterfeit masks"}`,
		`{"officer":"sup-huang","lane":"green","reason":"trusted trader"}`,
		`{"officer":"doc-li","lane":"red","reason":"tip-off"}`,
		`{"officer":"sup-huang","lane":"blue","reason":"x"}`,
		`{"officer":"sup-huang","lanes":"red","reason":"x"}`,
		`{"officer":"sup-huang","lane":"red","reason":"` + strings.Repeat("r", MaxReasonBytes+1) + `"}`,
		`{"officer":"sup-huang","lane":"red","reason":"\u0000"}`,
	} {
		for phase := uint8(0); phase < uint8(len(allPhases)); phase++ {
			f.Add([]byte(s), phase, phase, uint8(0))
			f.Add([]byte(s), phase, phase, uint8(phase%4)<<4)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte, phase, stage, flags uint8) {
		c := fuzzClearance(phase, stage, flags)
		caller := fuzzCaller(c, flags)
		checkVerdict(t, c, UpdateReroute, raw, withFuzzCaller(c.validateRerouteUpdate, caller), func(r Reroute) []string {
			if caller != nil && r.Officer != "" && r.Officer != caller.Subject {
				t.Fatalf("accepted a reroute as %q from the caller %q", r.Officer, caller.Subject)
			}
			if r.Lane == c.Lane || !policy.ValidLane(r.Lane) {
				t.Fatalf("accepted a reroute to %q from %s at %s", r.Lane, c.Lane, c.Stage)
			}
			return []string{r.Reason}
		})
	})
}

func FuzzSupply(f *testing.F) {
	for _, s := range []string{
		`{"documents":[{"type":"quality-declaration","reference":"QD-1"}],"note":"attached"}`,
		`{"certificates":[{"scheme":"FDA-510K","number":"K200124","holder":"Ningbo Mediguard Medical Products Co., Ltd.","lines":["1"],"validFrom":"2019-01-01T00:00:00Z","validTo":"2030-01-01T00:00:00Z"}]}`,
		`{"documents":[{"type":"quality-declaration","reference":"QD\u0000"}]}`,
		`{"documents":[{"type":"nonsense","reference":"X"}]}`,
		`{"documents":[],"certificates":[]}`,
		`{"document":[]}`,
		`{"documents":[{"type":"other","reference":"X","amount":-1}]}`,
	} {
		for phase := uint8(0); phase < uint8(len(allPhases)); phase++ {
			f.Add([]byte(s), phase, uint8(0), uint8(0))
			f.Add([]byte(s), phase, uint8(0), uint8(phase%4)<<4)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte, phase, stage, flags uint8) {
		c := fuzzClearance(phase, stage, flags)
		caller := fuzzCaller(c, flags)
		checkVerdict(t, c, UpdateSupplyDocuments, raw, withFuzzCaller(c.validateSupplyUpdate, caller), func(s Supply) []string {
			if caller != nil && caller.Exporter != c.decl.Exporter.Code {
				t.Fatalf("accepted documents from %q, who does not act for the exporter", caller.Subject)
			}
			merged := c.decl
			merge(&merged, s)
			if err := merged.Validate(); err != nil {
				t.Fatalf("accepted documents that leave the declaration invalid: %v", err)
			}
			return []string{s.Note}
		})
	})
}

func FuzzWithdraw(f *testing.F) {
	for _, s := range []string{
		`{"reason":"the buyer cancelled the order"}`, `{"reason":"  "}`, `{"why":"x"}`, `{"reason":"\u202e"}`, `{}`, `7`,
	} {
		for phase := uint8(0); phase < uint8(len(allPhases)); phase++ {
			f.Add([]byte(s), phase, uint8(0), uint8(0))
			f.Add([]byte(s), phase, uint8(0), uint8(phase%4)<<4)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte, phase, stage, flags uint8) {
		c := fuzzClearance(phase, stage, flags)
		caller := fuzzCaller(c, flags)
		checkVerdict(t, c, UpdateWithdraw, raw, withFuzzCaller(c.validateWithdrawUpdate, caller), func(w Withdrawal) []string {
			if caller != nil && caller.Exporter != c.decl.Exporter.Code {
				t.Fatalf("accepted a withdrawal from %q, who does not act for the exporter", caller.Subject)
			}
			if strings.TrimSpace(w.Reason) == "" {
				t.Fatalf("accepted a withdrawal without a reason")
			}
			return []string{w.Reason}
		})
	})
}

func FuzzExtend(f *testing.F) {
	for _, s := range []string{
		`{"stage":"document-check","supervisor":"sup-huang","by":"1d","reason":"the laboratory's report is due on Thursday"}`,
		`{"stage":"document-check","supervisor":"doc-li","by":"1d","reason":"x"}`,
		`{"stage":"release","supervisor":"sup-huang","by":"1d","reason":"x"}`,
		`{"stage":"document-check","supervisor":"sup-huang","by":"30d","reason":"x"}`,
		`{"stage":"document-check","supervisor":"sup-huang","by":"-1h","reason":"x"}`,
		`{"stage":"document-check","supervisor":"sup-huang","by":"1d","reason":" "}`,
		`{"stage":"document-check","supervisor":"sup-huang","by":"1d","reason":"x","days":2}`,
		`{"stage":"document-check","by":"1d","reason":"x"}`,
		`{"stage":"document-check","supervisor":"sup-huang","by":"1d","reason":"` + strings.Repeat("r", MaxReasonBytes+1) + `"}`,
	} {
		for phase := uint8(0); phase < uint8(len(allPhases)); phase++ {
			f.Add([]byte(s), phase, uint8(0), uint8(0))
			f.Add([]byte(s), phase, uint8(0), uint8(2)<<4)
			f.Add([]byte(s), phase, uint8(0), uint8(64|128))
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte, phase, stage, flags uint8) {
		c := fuzzClearance(phase, stage, flags)
		caller := fuzzCaller(c, flags)
		checkVerdict(t, c, UpdateExtend, raw, withFuzzCaller(c.validateExtendUpdate, caller), func(x Extension) []string {
			if caller != nil && x.Supervisor != "" && x.Supervisor != caller.Subject {
				t.Fatalf("accepted an extension as %q from the caller %q", x.Supervisor, caller.Subject)
			}
			st := c.Timeline[c.stageIdx]
			if x.Stage != c.Stage || st.Extension != nil || st.Escalated || x.By.D() <= 0 || x.By.D() > st.Allowance.D() {
				t.Fatalf("accepted %+v on %+v", x, st)
			}
			return []string{x.Reason}
		})
	})
}

// The fuzz targets' contract only bites on acceptances: each validator accepts its plain request
// in the phase that takes it, and refuses it in every other.
func TestEachValidatorAcceptsOnlyInItsPhases(t *testing.T) {
	for _, tc := range []struct {
		request string
		raw     string
		stage   policy.Stage
		check   func(c *clearance) func(json.RawMessage) error
	}{
		{UpdateDecide, `{"stage":"document-check","officer":"doc-li","outcome":"approve"}`, policy.StageDocumentCheck,
			func(c *clearance) func(json.RawMessage) error { return noCaller(c.validateDecide) }},
		{SignalDecision, `{"stage":"document-check","officer":"doc-li","outcome":"approve"}`, policy.StageDocumentCheck,
			func(c *clearance) func(json.RawMessage) error {
				return func(raw json.RawMessage) error { _, err := c.validateSignal(raw, nil); return err }
			}},
		{UpdateReroute, `{"officer":"sup-huang","lane":"red","reason":"intelligence on counterfeit masks"}`, policy.StageDocumentCheck,
			func(c *clearance) func(json.RawMessage) error { return noCaller(c.validateRerouteUpdate) }},
		{UpdateSupplyDocuments, `{"documents":[{"type":"quality-declaration","reference":"QD-1"}]}`, policy.StageDocumentCheck,
			func(c *clearance) func(json.RawMessage) error { return noCaller(c.validateSupplyUpdate) }},
		{UpdateWithdraw, `{"reason":"the buyer cancelled the order"}`, policy.StageDocumentCheck,
			func(c *clearance) func(json.RawMessage) error { return noCaller(c.validateWithdrawUpdate) }},
		{UpdateExtend, `{"stage":"document-check","supervisor":"sup-huang","by":"1d","reason":"the laboratory's report"}`, policy.StageDocumentCheck,
			func(c *clearance) func(json.RawMessage) error { return noCaller(c.validateExtendUpdate) }},
		{UpdateAmend, `{"documents":[{"type":"packing-list","reference":"PL-1-rev1"}],"reason":"corrected carton count"}`, policy.StageDocumentCheck,
			func(c *clearance) func(json.RawMessage) error { return noCaller(c.validateAmendUpdate) }},
		{UpdateDecideAmendment, `{"officer":"doc-li","amendment":1,"outcome":"consent"}`, policy.StageDocumentCheck,
			func(c *clearance) func(json.RawMessage) error {
				propose(c)
				return noCaller(c.validateDecideAmendmentUpdate)
			}},
	} {
		for i, p := range allPhases {
			c := fuzzClearance(uint8(i), 0, 0)
			err := tc.check(c)(json.RawMessage(tc.raw))
			if p.Accepts(tc.request) && err != nil {
				t.Errorf("%s refused in %s: %v", tc.request, p, err)
			}
			if !p.Accepts(tc.request) && err == nil {
				t.Errorf("%s accepted in %s", tc.request, p)
			}
		}
	}
}

// noCaller is a validator without a verified caller, as without authentication.
func noCaller(v func(json.RawMessage, *Principal) error) func(json.RawMessage) error {
	return func(raw json.RawMessage) error { return v(raw, nil) }
}

// workSeeds adds a work-management update's seeds in every phase, with and without a holder
// (flags bit 0) and for each caller.
func workSeeds(f *testing.F, seeds ...string) {
	for _, s := range append(seeds, `[]`, `null`, `{}`, `{"officer":1}`, `{"officer":"doc-li"} {}`,
		`{"officer":"doc-li","text":"`+strings.Repeat("t", MaxReasonBytes+1)+`"}`) {
		for phase := uint8(0); phase < uint8(len(allPhases)); phase++ {
			f.Add([]byte(s), phase, uint8(0), uint8(0))
			f.Add([]byte(s), phase, uint8(0), uint8(1)|uint8(phase%4)<<4)
		}
	}
}

// workClearance is fuzzClearance whose current stage doc-li holds when flags bit 0 is set.
func workClearance(phase, stage, flags uint8) *clearance {
	c := fuzzClearance(phase, stage, flags&^1)
	if flags&1 != 0 && c.Stage != "" {
		c.Claim = &Claim{Officer: "doc-li", Stage: c.Stage, At: start}
	}
	return c
}

func FuzzClaim(f *testing.F) {
	workSeeds(f, `{"officer":"doc-li"}`, `{"officer":"doc-chen","reason":"mine"}`, `{"officer":"cert-liu"}`,
		`{"officer":"hq-wang"}`, `{"officer":"doc-li","reason":"\u001b[2J"}`, `{"officer":"doc-li","stage":"release"}`)
	f.Fuzz(func(t *testing.T, raw []byte, phase, stage, flags uint8) {
		c := workClearance(phase, stage, flags)
		caller := fuzzCaller(c, flags)
		checkVerdict(t, c, UpdateClaim, raw, withFuzzCaller(c.validateClaim, caller), func(r ClaimRequest) []string {
			r = asClaimant(r, caller)
			if caller != nil && r.Officer != caller.Subject {
				t.Fatalf("accepted a claim as %q from the caller %q", r.Officer, caller.Subject)
			}
			if c.holder() != "" {
				t.Fatalf("accepted a claim by %s of a stage %s holds", r.Officer, c.holder())
			}
			if err := c.mayDecide(r.Officer, c.Stage); err != nil {
				t.Fatalf("accepted a claim by an officer who may not decide %s: %v", c.Stage, err)
			}
			return []string{r.Reason}
		})
	})
}

func FuzzUnclaim(f *testing.F) {
	workSeeds(f, `{"officer":"doc-li"}`, `{"officer":"doc-chen"}`, `{"officer":"doc-li","reason":"back to the queue"}`)
	f.Fuzz(func(t *testing.T, raw []byte, phase, stage, flags uint8) {
		c := workClearance(phase, stage, flags)
		caller := fuzzCaller(c, flags)
		checkVerdict(t, c, UpdateUnclaim, raw, withFuzzCaller(c.validateUnclaim, caller), func(r ClaimRequest) []string {
			if r = asClaimant(r, caller); r.Officer != c.holder() {
				t.Fatalf("accepted an unclaim by %q of a stage %q holds", r.Officer, c.holder())
			}
			return []string{r.Reason}
		})
	})
}

func FuzzReassign(f *testing.F) {
	workSeeds(f, `{"supervisor":"sup-huang","officer":"doc-chen","reason":"on leave"}`,
		`{"supervisor":"sup-huang","officer":"","reason":"back to the queue"}`,
		`{"supervisor":"doc-li","officer":"doc-chen","reason":"x"}`, `{"supervisor":"sup-huang","officer":"doc-chen"}`,
		`{"supervisor":"sup-huang","officer":"hq-wang","reason":"x"}`)
	f.Fuzz(func(t *testing.T, raw []byte, phase, stage, flags uint8) {
		c := workClearance(phase, stage, flags)
		caller := fuzzCaller(c, flags)
		checkVerdict(t, c, UpdateReassign, raw, withFuzzCaller(c.validateReassign, caller), func(r Reassignment) []string {
			if caller != nil && r.Supervisor != "" && r.Supervisor != caller.Subject {
				t.Fatalf("accepted a reassignment as %q from the caller %q", r.Supervisor, caller.Subject)
			}
			if strings.TrimSpace(r.Reason) == "" || r.Officer == c.holder() {
				t.Fatalf("accepted a reassignment %+v with holder %q", r, c.holder())
			}
			return []string{r.Reason}
		})
	})
}

func FuzzNote(f *testing.F) {
	workSeeds(f, `{"officer":"doc-li","text":"invoice checked"}`, `{"officer":"sup-huang","text":"line 2\nline 3"}`,
		`{"officer":"buyer","text":"x"}`, `{"officer":"doc-li","text":"  "}`, `{"officer":"doc-li","text":"\u0000"}`)
	f.Fuzz(func(t *testing.T, raw []byte, phase, stage, flags uint8) {
		c := workClearance(phase, stage, flags)
		caller := fuzzCaller(c, flags)
		checkVerdict(t, c, UpdateNote, raw, withFuzzCaller(c.validateNote, caller), func(n Note) []string {
			if strings.TrimSpace(n.Text) == "" {
				t.Fatalf("accepted a blank note")
			}
			return []string{n.Text}
		})
	})
}

// holdClearance is fuzzClearance on which customs holds the clearance when flags bit 0 is set.
func holdClearance(phase, stage, flags uint8) *clearance {
	c := fuzzClearance(phase, stage, flags&^1)
	if flags&1 != 0 {
		c.Holds = []HoldRecord{{Hold: Hold{Supervisor: "sup-huang", Reason: "intelligence"}, At: start}}
	}
	return c
}

func FuzzHold(f *testing.F) {
	workSeeds(f, `{"supervisor":"sup-huang","reason":"intelligence on counterfeit masks"}`,
		`{"supervisor":"sup-huang","agency":"NMPA","reason":"white-list check"}`, `{"supervisor":"doc-li","reason":"x"}`,
		`{"supervisor":"sup-huang"}`, `{"supervisor":"sup-huang","agency":"\u0000","reason":"x"}`)
	f.Fuzz(func(t *testing.T, raw []byte, phase, stage, flags uint8) {
		c := holdClearance(phase, stage, flags)
		caller := fuzzCaller(c, flags)
		checkVerdict(t, c, UpdateHold, raw, withFuzzCaller(c.validateHold, caller), func(h Hold) []string {
			if c.standing(h.Agency) >= 0 || strings.TrimSpace(h.Reason) == "" {
				t.Fatalf("accepted a hold %+v beside %+v", h, c.Holds)
			}
			return []string{h.Reason}
		})
	})
}

func FuzzLift(f *testing.F) {
	workSeeds(f, `{"supervisor":"sup-huang","disposition":"may-proceed","reason":"checked"}`,
		`{"supervisor":"sup-huang","agency":"NMPA","disposition":"may-proceed","reason":"on the white list"}`,
		`{"supervisor":"sup-huang","disposition":"refused","reason":"x"}`, `{"supervisor":"doc-li","disposition":"may-proceed","reason":"x"}`,
		`{"supervisor":"sup-huang","agency":"NMPA","disposition":"refused","reason":"not on the white list"}`)
	f.Fuzz(func(t *testing.T, raw []byte, phase, stage, flags uint8) {
		c := holdClearance(phase, stage, flags)
		caller := fuzzCaller(c, flags)
		checkVerdict(t, c, UpdateLift, raw, withFuzzCaller(c.validateLift, caller), func(l Lift) []string {
			if c.standing(l.Agency) < 0 || (l.Disposition != DispositionMayProceed && (l.Disposition != DispositionRefused || l.Agency == "")) {
				t.Fatalf("accepted a lift %+v of %+v", l, c.Holds)
			}
			return []string{l.Reason}
		})
	})
}

// propose gives the clearance an amendment that awaits an officer's consent.
func propose(c *clearance) {
	a := Amendment{Documents: []declaration.Document{{Type: declaration.DocPackingList, Reference: "PL-1-rev1"}}, Reason: "corrected"}
	c.Amendments = append(c.Amendments, AmendmentRecord{Version: len(c.Amendments) + 1, Stage: c.Stage, At: start,
		Reason: a.Reason, Status: AmendmentAwaitingConsent})
	c.ProposedAmendment = &a
}

// amendClearance is fuzzClearance with an amendment awaiting consent when flags bit 0 is set and
// an officer's decision recorded (so an amendment needs consent) when bit 1 is.
func amendClearance(phase, stage, flags uint8) *clearance {
	c := fuzzClearance(phase, stage, flags&^3)
	if flags&2 != 0 {
		c.Decisions = append(c.Decisions, DecisionRecord{Decision: Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li",
			Outcome: OutcomeApprove}, Via: ViaUpdate})
	}
	if flags&1 != 0 {
		propose(c)
	}
	return c
}

func FuzzAmend(f *testing.F) {
	workSeeds(f, `{"documents":[{"type":"packing-list","reference":"PL-1-rev1"}],"reason":"corrected carton count"}`,
		`{"lines":[{"id":"1","hsCode":"6307.90","description":"Disposable surgical masks, 3-ply","quantity":180000,"unit":"pcs",`+
			`"value":3600000,"currency":"USD","category":"medical-mask","deviceClass":"IIa"}],`+
			`"documents":[{"type":"commercial-invoice","reference":"INV-1","amount":8600000,"currency":"USD"}],"reason":"short shipment"}`,
		`{"removeLines":["2"],"documents":[{"type":"commercial-invoice","reference":"INV-1","amount":4000000,"currency":"USD"}],"reason":"kits ship later"}`,
		`{"removeLines":["9"],"reason":"x"}`, `{"reason":"nothing"}`, `{"documents":[{"type":"packing-list","reference":"PL-1"}],"reason":"same"}`,
		`{"lines":[{"id":"","quantity":1}],"reason":"x"}`, `{"documents":[{"type":"packing-list","reference":"PL-2"}]}`,
		`{"certificates":[{"scheme":"fda-510k","number":"K200124","lines":["1"]}],"reason":"\u202e"}`)
	f.Fuzz(func(t *testing.T, raw []byte, phase, stage, flags uint8) {
		c := amendClearance(phase, stage, flags)
		caller := fuzzCaller(c, flags)
		checkVerdict(t, c, UpdateAmend, raw, withFuzzCaller(c.validateAmendUpdate, caller), func(a Amendment) []string {
			if caller != nil && !caller.Has(RoleExporter) {
				t.Fatalf("accepted an amendment from %q, who is not the exporter", caller.Subject)
			}
			if c.awaitingConsent() != nil {
				t.Fatalf("accepted an amendment while amendment %d awaits consent", c.awaitingConsent().Version)
			}
			after := amended(c.decl, a)
			if err := after.Validate(); err != nil {
				t.Fatalf("accepted an amendment whose declaration does not validate: %v", err)
			}
			if len(declaration.Diff(c.decl, after)) == 0 {
				t.Fatalf("accepted an amendment that changes nothing")
			}
			return []string{a.Reason}
		})
	})
}

func FuzzDecideAmendment(f *testing.F) {
	workSeeds(f, `{"officer":"doc-li","amendment":1,"outcome":"consent"}`,
		`{"officer":"doc-li","amendment":1,"outcome":"refuse","reason":"the invoice was checked already"}`,
		`{"officer":"doc-li","amendment":2,"outcome":"consent"}`, `{"officer":"doc-li","amendment":1,"outcome":"refuse"}`,
		`{"officer":"hq-wang","amendment":1,"outcome":"consent"}`, `{"officer":"doc-li","amendment":1,"outcome":"maybe"}`,
		`{"officer":"doc-li","amendment":1,"outcome":"refuse","reason":"\u0000"}`)
	f.Fuzz(func(t *testing.T, raw []byte, phase, stage, flags uint8) {
		c := amendClearance(phase, stage, flags)
		caller := fuzzCaller(c, flags)
		checkVerdict(t, c, UpdateDecideAmendment, raw, withFuzzCaller(c.validateDecideAmendmentUpdate, caller), func(d AmendmentDecision) []string {
			if caller != nil && d.Officer != "" && d.Officer != caller.Subject {
				t.Fatalf("accepted a decision as %q from the caller %q", d.Officer, caller.Subject)
			}
			p := c.awaitingConsent()
			if p == nil || p.Version != d.Amendment {
				t.Fatalf("accepted a decision on amendment %d; awaiting consent: %+v", d.Amendment, p)
			}
			if d.Outcome == AmendmentRefuse && strings.TrimSpace(d.Reason) == "" {
				t.Fatalf("accepted a refusal without a reason")
			}
			return []string{d.Reason}
		})
	})
}
