package agency

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medsupply/customs/declaration"
)

func TestPermitRequestValidateNamesTheFieldAndTheReason(t *testing.T) {
	ok := request(t, NMPA, testKits(t))
	if err := ok.Validate(); err != nil {
		t.Fatalf("a valid request: %v", err)
	}
	with := func(f func(*PermitRequest)) PermitRequest {
		r := ok
		r.Lines = append([]string{}, ok.Lines...)
		f(&r)
		return r
	}
	cases := map[string]struct {
		r    PermitRequest
		want string
	}{
		"no agency":               {with(func(r *PermitRequest) { r.Agency = "" }), "agency: missing"},
		"a lower-case agency":     {with(func(r *PermitRequest) { r.Agency = "nmpa" }), `agency: "nmpa" is not an agency's short name`},
		"an agency ending in '-'": {with(func(r *PermitRequest) { r.Agency = "AB-" }), "agency:"},
		"no request ID":           {with(func(r *PermitRequest) { r.RequestID = "" }), "requestId: missing"},
		"a request ID too long":   {with(func(r *PermitRequest) { r.RequestID = strings.Repeat("a", MaxRequestIDBytes+1) }), "requestId: 201 bytes"},
		"a request ID with a '~'": {with(func(r *PermitRequest) { r.RequestID = "a~b" }), `requestId: "a~b" must be letters`},
		"a request ID with space": {with(func(r *PermitRequest) { r.RequestID = "a b" }), "requestId:"},
		"no clearance":            {with(func(r *PermitRequest) { r.ClearanceID = " " }), "clearanceId: missing"},
		"a clearance too long":    {with(func(r *PermitRequest) { r.ClearanceID = strings.Repeat("c", 256) }), "clearanceId: 256 bytes"},
		"a clearance with a NUL":  {with(func(r *PermitRequest) { r.ClearanceID = "c\x00" }), "clearanceId: holds the control character"},
		"an invalid declaration":  {with(func(r *PermitRequest) { r.Declaration.ID = "" }), "declaration: "},
		"no lines":                {with(func(r *PermitRequest) { r.Lines = nil }), "lines: missing"},
		"too many lines":          {with(func(r *PermitRequest) { r.Lines = make([]string, declaration.MaxLines+1) }), "lines: 501 lines"},
		"a line named twice":      {with(func(r *PermitRequest) { r.Lines = []string{"1", "1"} }), `lines[1]: line "1" is named twice`},
		"a line not declared":     {with(func(r *PermitRequest) { r.Lines = []string{"7"} }), `lines[0]: "7" is not a line of declaration LB-2020-DE-0415`},
		"no reason":               {with(func(r *PermitRequest) { r.Reason = "" }), "reason: missing"},
		"a reason too long":       {with(func(r *PermitRequest) { r.Reason = strings.Repeat("r", MaxReasonBytes+1) }), "reason: 4097 bytes"},
		"a reason with a control": {with(func(r *PermitRequest) { r.Reason = "a\u202eb" }), "reason: holds the control character"},
	}
	for name, c := range cases {
		if err := c.r.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

// endpointName is the server's rule for an endpoint's name (server v1.32.1,
// service/frontend/nexus_endpoint_client.go).
var endpointName = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9\-]*[a-zA-Z0-9]$`)

func TestNamesOfAnAgencysEndpointAndNamespace(t *testing.T) {
	if EndpointName(NMPA) != "agency-nmpa" || Namespace(NMPA) != "agency-nmpa" || EndpointName(SAMR) != "agency-samr" {
		t.Fatalf("names %s %s %s", EndpointName(NMPA), Namespace(NMPA), EndpointName(SAMR))
	}
	for _, a := range []string{NMPA, SAMR, "HEALTH-Q", "A1"} {
		if err := CheckAgency(a); err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		if !endpointName.MatchString(EndpointName(a)) {
			t.Errorf("%s's endpoint %q is not a name the server takes", a, EndpointName(a))
		}
	}
}

func TestWorkflowIDDerivesFromTheRequestID(t *testing.T) {
	req := PermitRequest{RequestID: "clearance-3301960412-LB-2020-DE-0415/NMPA/1"}
	if got := WorkflowID(req); got != "permit-review-clearance-3301960412-LB-2020-DE-0415~NMPA~1" {
		t.Fatalf("workflow ID %q", got)
	}
	other := PermitRequest{RequestID: "clearance-3301960412-LB-2020-DE-0415/NMPA/2"}
	if WorkflowID(other) == WorkflowID(req) {
		t.Fatal("two requests, one review")
	}
	for _, id := range []string{"", "a~b", strings.Repeat("x", 5000), "with space"} {
		got := WorkflowID(PermitRequest{RequestID: id})
		if !strings.HasPrefix(got, IDPrefix+"h") || len(got) != len(IDPrefix)+33 {
			t.Errorf("request ID %.20q: workflow ID %q, want the bounded hash form", id, got)
		}
	}
}

func TestPermitNumberIsTheRequestsOwn(t *testing.T) {
	at := time.Date(2020, 4, 16, 9, 0, 0, 0, time.UTC)
	a := PermitNumber(NMPA, "r/NMPA/1", at)
	if a != PermitNumber(NMPA, "r/NMPA/1", at.Add(time.Hour)) || !regexp.MustCompile(`^NMPA-2020-[A-Z2-7]{10}$`).MatchString(a) {
		t.Fatalf("permit number %q", a)
	}
	if a == PermitNumber(NMPA, "r/NMPA/2", at) || a == PermitNumber(SAMR, "r/NMPA/1", at) {
		t.Fatal("two requests, one permit number")
	}
}

func FuzzPermitRequestValidate(f *testing.F) {
	b, err := json.Marshal(PermitRequest{Agency: NMPA, RequestID: "c/NMPA/1", ClearanceID: "c", Lines: []string{"1"}, Reason: "r",
		Declaration: declaration.Declaration{ID: "D", Lines: []declaration.Line{{ID: "1"}}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"agency":"SAMR","requestId":"a~b","lines":["1","1"]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var r PermitRequest
		if json.Unmarshal(raw, &r) != nil {
			return
		}
		err := r.Validate()
		id := WorkflowID(r)
		if !strings.HasPrefix(id, IDPrefix) || len(id) > len(IDPrefix)+MaxRequestIDBytes || strings.Contains(id, "/") {
			t.Fatalf("workflow ID %q of request ID %q", id, r.RequestID)
		}
		if err != nil {
			if msg := err.Error(); !strings.Contains(msg, ":") || len(msg) > 64<<10 {
				t.Fatalf("refusal %q names no field", msg)
			}
			return
		}
		if CheckAgency(r.Agency) != nil || r.RequestID == "" || len(r.Lines) == 0 || strings.TrimSpace(r.Reason) == "" ||
			len(r.Reason) > MaxReasonBytes || id != IDPrefix+strings.ReplaceAll(r.RequestID, "/", "~") {
			t.Fatalf("accepted %+v", r)
		}
	})
}

func FuzzDecisionValidator(f *testing.F) {
	for _, s := range []string{
		`{"officer":"nmpa-gao","outcome":"grant","reason":"seen"}`,
		`{"officer":"nmpa-gao","outcome":"request-information","reason":"r","requested":["a"]}`,
		`{"officer":"samr-lin","outcome":"refuse","reason":"r"}`,
		`{"outcome":"refuse","reason":"r","extra":1}`,
	} {
		f.Add([]byte(s), "", "")
		f.Add([]byte(s), "nmpa-tang", NMPA)
		f.Add([]byte(s), "nmpa-gao", SAMR)
		f.Add([]byte(s), "nmpa-gao", "")
	}
	f.Fuzz(func(t *testing.T, raw []byte, subject, agency string) {
		var caller *Principal
		if subject != "" {
			caller = &Principal{Subject: subject, Agency: agency}
		}
		err := awaiting().validate(raw, caller)
		if err != nil {
			if msg := err.Error(); strings.TrimSpace(msg) == "" || len(msg) > 2048 {
				t.Fatalf("refusal of %d bytes", len(msg))
			}
			return
		}
		var d Decision
		if json.Unmarshal(raw, &d) != nil {
			t.Fatalf("accepted %q, which does not decode", raw)
		}
		if d.Officer == "" && caller != nil {
			d.Officer = caller.Subject
		}
		if (d.Officer != "nmpa-gao" && d.Officer != "nmpa-tang") || (caller != nil && (caller.Subject != d.Officer || caller.Agency != NMPA)) ||
			strings.TrimSpace(d.Reason) == "" || len(d.Reason) > MaxReasonBytes || len(d.Requested) > MaxRequested ||
			(d.Outcome == OutcomeRequestInformation) != (len(d.Requested) > 0) ||
			(d.Outcome != OutcomeGrant && d.Outcome != OutcomeRefuse && d.Outcome != OutcomeRequestInformation) {
			t.Fatalf("accepted %+v from %v", d, caller)
		}
	})
}

// TestParseList: the commands' lists of agencies, blanks dropped, each a short name and once.
func TestParseList(t *testing.T) {
	for list, want := range map[string][]string{"": nil, "NMPA": {NMPA}, " NMPA, ,SAMR ,": {NMPA, SAMR}, "CNCA,NMPA": {"CNCA", NMPA}} {
		got, err := ParseList(list)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseList(%q) = %v, %v; want %v", list, got, err, want)
		}
	}
	for list, why := range map[string]string{"NMPA,nmpa": `"nmpa" is not an agency's short name`, "SAMR,NMPA,SAMR": "SAMR is named twice"} {
		if _, err := ParseList(list); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("ParseList(%q): %v, want %q", list, err, why)
		}
	}
}
