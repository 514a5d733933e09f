package trs

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

// singleWindowResult is a clearance whose release waited on two agencies at once: lodged on day 0,
// its document check took 2 days (a day waiting on the officer, a day on the exporter), and its
// release waited from day 2 on NMPA, which answered on day 20, and SAMR, which answered on day 8.
// Each result's agencyTime is the agency's own wait (NMPA 18 days, SAMR 6), which overlap; told
// apart, the 6 days both held it are 3 each: NMPA 15 days, SAMR 3, customs 1, the exporter 1.
func singleWindowResult() workflows.Result {
	at := func(days float64) time.Time { return week1.Add(time.Duration(days * float64(day))) }
	doc := rec(policy.StageDocumentCheck, 2*day, 2*day, day, day, 0)
	doc.Started, doc.Ended = at(0), at(2)
	release := rec(policy.StageRelease, 0, 2*day, 0, 0, 0)
	release.Started, release.Ended = at(20), at(20)
	granted := func(a string, answered float64) *agency.PermitResult {
		return &agency.PermitResult{Agency: a, RequestID: "clearance-1-SW/" + a + "/1", Disposition: agency.Granted, Permit: a + "-2020-1", Decided: at(answered)}
	}
	return workflows.Result{DeclarationID: "SW", State: workflows.StateReleased, Lane: policy.LaneYellow, Submitted: at(0), Ended: at(20),
		Elapsed: policy.Duration(20 * day), Standard: policy.Duration(20 * day), Timeline: []workflows.StageRecord{doc, release},
		Permits: []workflows.PermitRecord{
			{Agency: agency.NMPA, RequestID: "clearance-1-SW/NMPA/1", Lines: []string{"1"}, Asked: at(0), Answered: at(20), Waited: policy.Duration(18 * day), Result: granted(agency.NMPA, 20)},
			{Agency: agency.SAMR, RequestID: "clearance-1-SW/SAMR/1", Lines: []string{"1"}, Asked: at(0), Answered: at(8), Waited: policy.Duration(6 * day), Result: granted(agency.SAMR, 8)},
		},
		AgencyTime:      map[string]policy.Duration{agency.NMPA: policy.Duration(18 * day), agency.SAMR: policy.Duration(6 * day)},
		OtherAgencyTime: policy.Duration(24 * day),
	}
}

// TestTimeByPartyKeepsEachAgencyApart: a clearance that waited on NMPA and SAMR shows each
// agency's time apart, in the clearance, the group's shares (which add up to 1), the headline,
// the JSON, the text and the HTML page.
func TestTimeByPartyKeepsEachAgencyApart(t *testing.T) {
	c := FromResult(singleWindowResult(), []string{"respirator"})
	if want := map[string]time.Duration{agency.NMPA: 15 * day, agency.SAMR: 3 * day}; len(c.Agencies) != 2 ||
		c.Agencies[agency.NMPA] != want[agency.NMPA] || c.Agencies[agency.SAMR] != want[agency.SAMR] || c.OtherAgency != 18*day {
		t.Fatalf("agencies %v, other-agency %s; want NMPA 15d, SAMR 3d, 18d in all (the 6 days both held it shared)", c.Agencies, c.OtherAgency)
	}
	r := Build([]Clearance{c}, 20*day, "", week1.AddDate(0, 1, 0))
	all := find(t, r, "all", "all")
	shares := map[string]float64{PartyCustoms: all.CustomsShare, PartyExporter: all.TraderShare}
	for a, s := range all.AgencyShares {
		shares[a] = s
	}
	want := map[string]float64{PartyCustoms: 0.05, PartyExporter: 0.05, agency.NMPA: 0.75, agency.SAMR: 0.15}
	for k, w := range want {
		if math.Abs(shares[k]-w) > 1e-9 {
			t.Errorf("%s share %v, want %v", k, shares[k], w)
		}
	}
	if math.Abs(all.OtherAgencyShare-0.9) > 1e-9 || all.OtherHoldsShare != 0 {
		t.Errorf("other-agency share %v, holds %v; want 0.9 and none", all.OtherAgencyShare, all.OtherHoldsShare)
	}
	assertPartiesAddUp(t, all)
	if got, want := all.TimeByParty(), "of 20.0 days elapsed: customs 1.0 (5%), exporter 1.0 (5%), NMPA 15.0 (75%), SAMR 3.0 (15%)"; got != want {
		t.Errorf("time by party %q, want %q", got, want)
	}
	if want := "customs time 5%, trader time 5%, NMPA time 75%, SAMR time 15%"; !strings.Contains(r.Headline, want) {
		t.Errorf("headline %q lacks %q", r.Headline, want)
	}

	var table bytes.Buffer
	if err := WriteTable(&table, r); err != nil {
		t.Fatal(err)
	}
	if want := "mean vs standard: 0s; of 20.0 days elapsed: customs 1.0 (5%), exporter 1.0 (5%), NMPA 15.0 (75%), SAMR 3.0 (15%); mean wait on officers 1d 0h, on the exporter 1d 0h, on other agencies 18d 0h, on checks 0s, other 0s"; !strings.Contains(table.String(), want) {
		t.Errorf("table lacks %q:\n%s", want, table.String())
	}

	var js bytes.Buffer
	if err := WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Groups []struct {
			Dimension    string             `json:"dimension"`
			AgencyShares map[string]float64 `json:"agencyShares"`
			Parties      []Party            `json:"parties"`
		} `json:"groups"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	g := back.Groups[0]
	if g.Dimension != "all" || math.Abs(g.AgencyShares[agency.NMPA]-0.75) > 1e-9 || math.Abs(g.AgencyShares[agency.SAMR]-0.15) > 1e-9 {
		t.Errorf("JSON agency shares %v", g.AgencyShares)
	}
	var names []string
	for _, p := range g.Parties {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "customs,exporter,NMPA,SAMR" || g.Parties[2].Mean != 15*day || g.Parties[3].Mean != 3*day {
		t.Errorf("JSON parties %+v", g.Parties)
	}
	var clearance bytes.Buffer
	if err := json.NewEncoder(&clearance).Encode(c); err != nil {
		t.Fatal(err)
	}
	if want := `"agencyTime":{"NMPA":` + jsonInt(15*day) + `,"SAMR":` + jsonInt(3*day) + `}`; !strings.Contains(clearance.String(), want) {
		t.Errorf("clearance JSON %s lacks %s", clearance.String(), want)
	}

	parties := htmlParties(t, r)
	if got := parties["all"]; strings.Join(got, "; ") != "customs 0.0500 customs 1.0 (5%); exporter 0.0500 exporter 1.0 (5%); NMPA 0.7500 NMPA 15.0 (75%); SAMR 0.1500 SAMR 3.0 (15%)" {
		t.Errorf("HTML time by party of all: %q", got)
	}
}

func jsonInt(d time.Duration) string { b, _ := json.Marshal(d); return string(b) }

// htmlParties reads the page's time by party: per group ("dimension key"; "all" for all), each
// party's name, data-share and text.
func htmlParties(t *testing.T, r Report) map[string][]string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(&b)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	group := ""
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attr := map[string]string{}
			for _, a := range n.Attr {
				attr[a.Key] = a.Val
			}
			switch {
			case n.Data == "h2" && n.FirstChild != nil:
				group = strings.TrimPrefix(n.FirstChild.Data, "all: ")
			case n.Data == "span" && attr["class"] == "party":
				out[group] = append(out[group], attr["data-party"]+" "+attr["data-share"]+" "+n.FirstChild.Data)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

// assertPartiesAddUp checks that the group's parties' shares, and its customs', trader and
// other-agency shares, add up to 1, and the agencies' and the holds' to the other-agency share.
func assertPartiesAddUp(t *testing.T, g Group) {
	t.Helper()
	var sum, agencies float64
	for _, p := range g.Parties {
		sum += p.Share
	}
	for _, s := range g.AgencyShares {
		agencies += s
	}
	if math.Abs(sum-1) > 1e-9 || math.Abs(g.CustomsShare+g.TraderShare+g.OtherAgencyShare-1) > 1e-9 ||
		math.Abs(agencies+g.OtherHoldsShare-g.OtherAgencyShare) > 1e-9 {
		t.Errorf("%s %s: parties %+v add up to %v; customs %v + trader %v + other-agency %v (agencies %v, holds %v)",
			g.Dimension, g.Key, g.Parties, sum, g.CustomsShare, g.TraderShare, g.OtherAgencyShare, agencies, g.OtherHoldsShare)
	}
}

// An earlier result, which did not tell agencies apart, counts its other-agency time as other
// agencies' holds beside the agencies named by another clearance; every group's shares still
// add up to 1.
func TestUnnamedAgencyHoldsStandApart(t *testing.T) {
	old := workflows.Result{DeclarationID: "OLD", State: workflows.StateReleased, Lane: policy.LaneYellow, Submitted: week1,
		Ended: week1.Add(20 * day), Elapsed: policy.Duration(20 * day), Standard: policy.Duration(20 * day),
		Timeline:        []workflows.StageRecord{rec(policy.StageDocumentCheck, 20*day, 2*day, 16*day, 0, 0)},
		Holds:           []workflows.HoldRecord{{Hold: workflows.Hold{Supervisor: "sup-huang", Agency: "HEALTH"}, At: week1, Held: policy.Duration(4 * day)}},
		OtherAgencyTime: policy.Duration(4 * day)}
	c := FromResult(old, nil)
	if c.Agencies != nil || c.OtherAgency != 4*day || c.otherHolds() != 4*day {
		t.Fatalf("agencies %v, other-agency %s", c.Agencies, c.OtherAgency)
	}
	r := Build([]Clearance{FromResult(singleWindowResult(), nil), c}, 20*day, "", week1.AddDate(0, 1, 0))
	all := find(t, r, "all", "all")
	// 40 days: the exporter 1, NMPA 15, SAMR 3, holds 4, customs the other 17.
	if got, want := all.TimeByParty(), "of 20.0 days elapsed: customs 8.5 (42%), exporter 0.5 (2%), NMPA 7.5 (38%), SAMR 1.5 (8%), other agencies (holds) 2.0 (10%)"; got != want {
		t.Errorf("time by party %q, want %q", got, want)
	}
	for _, g := range r.Groups {
		assertPartiesAddUp(t, g)
	}
	if want := ", NMPA time 38%, SAMR time 8%, other-agency time 10%"; !strings.Contains(r.Headline, want) {
		t.Errorf("headline %q lacks %q", r.Headline, want)
	}
	if got := htmlParties(t, r)["all"]; len(got) != 5 || got[4] != "other agencies (holds) 0.1000 other agencies (holds) 2.0 (10%)" {
		t.Errorf("HTML time by party %q", got)
	}
}

// AgencyTimesApart shares what agencies held at once equally, counts an agency's hold and its
// permit that overlap once, and counts the wait for agencies in progress to the moment given.
func TestAgencyTimesApart(t *testing.T) {
	h := func(hours float64) time.Time { return week1.Add(time.Duration(hours * float64(time.Hour))) }
	hours := func(n float64) policy.Duration { return policy.Duration(n * float64(time.Hour)) }
	holds := []workflows.HoldRecord{
		// NMPA held the clearance from hour 1 to 5, overlapping its own permit's wait.
		{Hold: workflows.Hold{Agency: agency.NMPA}, At: h(1), Lifted: &workflows.Lift{Agency: agency.NMPA}, LiftedAt: h(5), Held: hours(4)},
		// customs' own hold is no agency's.
		{Hold: workflows.Hold{}, At: h(0), Lifted: &workflows.Lift{}, LiftedAt: h(2), Held: hours(2)},
	}
	permits := []workflows.PermitRecord{
		{Agency: agency.NMPA, Asked: h(0), Answered: h(6), Waited: hours(3)}, // waited from hour 3 to 6
		{Agency: agency.SAMR, Asked: h(0), Waited: hours(3)},                 // waited from hour 3, still awaited
	}
	wait := &workflows.Waiting{For: workflows.WaitingForAgency, Agencies: []string{agency.SAMR}, Since: h(6)}
	got := workflows.AgencyTimesApart(holds, permits, wait, h(8))
	// NMPA alone 1-3, with SAMR 3-6 (1.5), SAMR alone 6-8: NMPA 3.5, SAMR 3.5.
	if want := map[string]policy.Duration{agency.NMPA: hours(3.5), agency.SAMR: hours(3.5)}; len(got) != 2 ||
		got[agency.NMPA] != want[agency.NMPA] || got[agency.SAMR] != want[agency.SAMR] {
		t.Errorf("times apart %v, want %v", got, want)
	}
	// A standing hold counts to the moment given; an agency asked that held nothing is named, at 0.
	standing := []workflows.HoldRecord{{Hold: workflows.Hold{Agency: "HEALTH"}, At: h(2)}}
	got = workflows.AgencyTimesApart(standing, []workflows.PermitRecord{{Agency: agency.NMPA, Asked: h(0)}}, nil, h(5))
	if len(got) != 2 || got["HEALTH"] != hours(3) || got[agency.NMPA] != 0 {
		t.Errorf("times apart %v", got)
	}
	if got := workflows.AgencyTimesApart(holds[1:], nil, nil, h(5)); got != nil {
		t.Errorf("customs' hold alone: %v, want none", got)
	}
}

// A running clearance read from its study memo counts the agencies it awaits on from the memo's
// moment, in equal parts; a memo written before clearances told agencies apart has other-agency
// time alone.
func TestStudyMemoCountsTheAgenciesOn(t *testing.T) {
	asOf := week1.Add(5 * time.Hour)
	st := workflows.Study{State: workflows.StateAwaitingAgency, Lane: policy.LaneGreen, Stage: policy.StageCertificationCheck, Submitted: week1,
		Elapsed: policy.Duration(5 * time.Hour), Standard: policy.Duration(20 * day), AsOf: asOf,
		Waiting:     &workflows.StudyWait{For: workflows.WaitingForAgency, Since: week1.Add(time.Hour), Agencies: []string{agency.NMPA, agency.SAMR}},
		OtherAgency: policy.Duration(8 * time.Hour),
		AgencyTime:  map[string]policy.Duration{agency.NMPA: policy.Duration(4 * time.Hour), agency.SAMR: policy.Duration(4 * time.Hour)}}
	c := FromStudy(st, "M", nil, asOf.Add(2*time.Hour))
	if !c.Running || c.Agencies[agency.NMPA] != 5*time.Hour || c.Agencies[agency.SAMR] != 5*time.Hour || c.OtherAgency != 10*time.Hour {
		t.Errorf("running %v, agencies %v, other-agency %s; want NMPA and SAMR 5h each, 10h", c.Running, c.Agencies, c.OtherAgency)
	}
	st.AgencyTime, st.Waiting = nil, nil
	if c := FromStudy(st, "M", nil, asOf.Add(2*time.Hour)); c.Agencies != nil || c.OtherAgency != 8*time.Hour {
		t.Errorf("an earlier memo: agencies %v, other-agency %s", c.Agencies, c.OtherAgency)
	}
}

// A running clearance's status query tells its agencies' time apart, the wait in progress
// counted to the status's moment.
func TestStatusTellsAgenciesApart(t *testing.T) {
	now := week1.Add(10 * time.Hour)
	s := workflows.Status{DeclarationID: "S", State: workflows.StateAwaitingAgency, Submitted: week1, Elapsed: policy.Duration(10 * time.Hour), AsOf: now,
		Waiting: &workflows.Waiting{For: workflows.WaitingForAgency, Agencies: []string{agency.NMPA}, Since: week1.Add(6 * time.Hour)},
		Record:  workflows.Record{Permits: []workflows.PermitRecord{{Agency: agency.NMPA, Asked: week1}}}}
	if c := FromStatus(s, nil); c.Agencies[agency.NMPA] != 4*time.Hour || c.OtherAgency != 4*time.Hour {
		t.Errorf("agencies %v, other-agency %s; want NMPA 4h", c.Agencies, c.OtherAgency)
	}
}

// The time a clearance's release waited for the exporter's answer to an agency's request for more
// information is the exporter's: from the result, from a running clearance's status (the wait in
// progress counted to its moment) and from its study memo.
func TestAnswersToAgenciesAreTraderTime(t *testing.T) {
	r := singleWindowResult()
	r.Permits[0].ExporterWait = policy.Duration(2 * day) // of NMPA's 18 days, 2 were the exporter's
	r.Permits[0].Waited = policy.Duration(16 * day)
	c := FromResult(r, nil)
	if c.AgencyInformation != 2*day || c.traderTime() != 3*day {
		t.Fatalf("agency information %s, trader time %s; want 2d and 3d with the document check's day", c.AgencyInformation, c.traderTime())
	}
	all := find(t, Build([]Clearance{c}, 20*day, "", week1.AddDate(0, 1, 0)), "all", "all")
	if math.Abs(all.TraderShare-0.15) > 1e-9 {
		t.Errorf("trader share %v, want 0.15", all.TraderShare)
	}
	assertPartiesAddUp(t, all)

	now := week1.Add(10 * time.Hour)
	s := workflows.Status{DeclarationID: "S", State: workflows.StateAwaitingExporter, Submitted: week1, Elapsed: policy.Duration(10 * time.Hour), AsOf: now,
		Waiting: &workflows.Waiting{For: workflows.WaitingForExporter, Agencies: []string{agency.NMPA}, Since: week1.Add(7 * time.Hour)},
		Record: workflows.Record{Permits: []workflows.PermitRecord{{Agency: agency.NMPA, Asked: week1, ExporterWait: policy.Duration(time.Hour),
			Result: &agency.PermitResult{Agency: agency.NMPA, Disposition: agency.InformationNeeded, Reason: "r"}}}}}
	if c := FromStatus(s, nil); c.AgencyInformation != 4*time.Hour {
		t.Errorf("a running clearance's answers to agencies %s, want 4h (1h before, 3h in progress)", c.AgencyInformation)
	}
	st := workflows.Study{State: workflows.StateAwaitingExporter, Submitted: week1, Elapsed: policy.Duration(10 * time.Hour), AsOf: now,
		Standard: policy.Duration(20 * day), Waiting: &workflows.StudyWait{For: workflows.WaitingForExporter, Since: week1.Add(7 * time.Hour), Agencies: []string{agency.NMPA}},
		AgencyInformation: policy.Duration(time.Hour)}
	if c := FromStudy(st, "S", nil, now.Add(time.Hour)); c.AgencyInformation != 5*time.Hour {
		t.Errorf("a study memo's answers to agencies %s, want 5h (1h before, 4h in progress)", c.AgencyInformation)
	}
}
