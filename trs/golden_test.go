package trs

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/workflows"
)

// goldenClearances reads every golden clearance of this release twice: from its result, as a
// closed clearance's result reads, and from its last study memo, as visibility pages serve it. A
// clearance that continued as new is read from the run that ended it (continued/NAME.next.json),
// whose result and study hold its whole record; the run that continued ended nothing.
func goldenClearances(t *testing.T) (fromResults, fromMemos []Clearance, results map[string]workflows.Result) {
	t.Helper()
	dir := filepath.Join("..", "workflows", "testdata", "golden")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) < 12 {
		t.Fatalf("golden histories: %v %v", files, err)
	}
	continued, err := filepath.Glob(filepath.Join(dir, "continued", "*.next.json"))
	if err != nil || len(continued) < 2 {
		t.Fatalf("golden histories of clearances that continued as new: %v %v", continued, err)
	}
	files = append(files, continued...)
	dc := converter.GetDefaultDataConverter()
	results = map[string]workflows.Result{}
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
		_ = f.Close()
		if err != nil {
			t.Fatal(err)
		}
		var (
			res   workflows.Result
			study *workflows.Study
		)
		for _, e := range h.GetEvents() {
			switch e.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED:
				var s workflows.Study
				if err := dc.FromPayload(e.GetWorkflowPropertiesModifiedEventAttributes().GetUpsertedMemo().GetFields()[workflows.MemoStudy], &s); err != nil {
					t.Fatal(err)
				}
				study = &s
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
				if err := dc.FromPayloads(e.GetWorkflowExecutionCompletedEventAttributes().GetResult(), &res); err != nil {
					t.Fatal(err)
				}
			}
		}
		if study == nil || res.DeclarationID == "" {
			t.Fatalf("%s: no study memo or no result", file)
		}
		results[filepath.Base(file)] = res
		fromResults = append(fromResults, FromResult(res, nil))
		fromMemos = append(fromMemos, FromStudy(*study, res.DeclarationID, nil, res.Ended))
	}
	return fromResults, fromMemos, results
}

// TestStudyOfTheGoldenHistories builds the study of this release's golden histories, checks it
// against figures counted by hand from the scenarios (which path ends how, in which lane, which
// stage overran and who was told), and checks that reading the clearances from their study
// memos gives the same study as reading their results.
func TestStudyOfTheGoldenHistories(t *testing.T) {
	fromResults, fromMemos, results := goldenClearances(t)
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	r := Build(fromResults, StandardOf(fromResults, 0), "", at)
	if m := Build(fromMemos, StandardOf(fromMemos, 0), "", at); !reflect.DeepEqual(m, r) {
		t.Errorf("the study read from the memos differs from the one read from the results:\nmemos %+v\nresults %+v", m.Groups, r.Groups)
	}

	// By hand, from workflows/testdata/golden/README.md: 20 released (appeal-upheld, whose
	// recorded run is the one its appeal reopened, and appeal-continue-as-new and
	// hold-continue-as-new, read from the runs they continued in, among them), refused by the
	// officer (reject), by rule (invalid-certificate), by the declarations register
	// (relodged-after-retention) and by another agency (agency-refusal), lapsed (request-lapse),
	// withdrawn (withdrawal); green: green-release, request-supply, relodged-after-retention,
	// amend-recheck-error, hold-continue-as-new; red: expedited, red-inspection, reroute,
	// reroute-during-release; yellow the other 17. The single window's four paths
	// (single-window-*.json, the green lane's respirators that need SAMR's permit) add two
	// releases, a refusal and a withdrawal, all green.
	count := func(dim, key string) int {
		for _, g := range r.Groups {
			if g.Dimension == dim && g.Key == key {
				return g.Total.Count
			}
		}
		return 0
	}
	want := map[[2]string]int{
		{"outcome", "released"}: 22, {"outcome", "refused"}: 5, {"outcome", "lapsed"}: 1, {"outcome", "withdrawn"}: 2,
		{"lane", "green"}: 9, {"lane", "red"}: 4, {"lane", "yellow"}: 17, {"all", "all"}: 30, {"procedure", "expedited"}: 1,
	}
	for k, n := range want {
		if got := count(k[0], k[1]); got != n {
			t.Errorf("%s %s: %d clearances, want %d", k[0], k[1], got, n)
		}
	}
	nReleased := want[[2]string{"outcome", "released"}]
	if r.Standard != 20*day || !strings.HasPrefix(r.Headline, fmt.Sprintf("%d released; median ", nReleased)) || !strings.Contains(r.Headline, "100% within 20d 0h") {
		t.Errorf("standard %s, headline %q", r.Standard, r.Headline)
	}
	// The median of the released clearances' total times, counted here by sorting them.
	var released []time.Duration
	for _, res := range results {
		if res.State == workflows.StateReleased {
			released = append(released, res.Elapsed.D())
		}
	}
	sort.Slice(released, func(i, j int) bool { return released[i] < released[j] })
	// NMPA's hold in agency-hold is other-agency time, in the clearance, its group and the
	// headline.
	if hold := results["agency-hold.json"]; hold.OtherAgencyTime <= 0 || len(hold.Holds) != 2 {
		t.Errorf("agency-hold: other-agency time %s, holds %d", hold.OtherAgencyTime, len(hold.Holds))
	}
	for _, g := range r.Groups {
		if g.Dimension == "all" && (g.OtherAgencyShare <= 0 || g.CustomsShare+g.TraderShare+g.OtherAgencyShare < 0.999) {
			t.Errorf("shares: customs %.4f trader %.4f other-agency %.4f", g.CustomsShare, g.TraderShare, g.OtherAgencyShare)
		}
		assertPartiesAddUp(t, g)
	}
	// A result that tells the agencies apart names NMPA for its hold; one recorded before
	// clearances did has it as other agencies' holds, and so does the headline.
	if hold := FromResult(results["agency-hold.json"], nil); results["agency-hold.json"].AgencyTime != nil {
		if hold.Agencies[agency.NMPA] <= 0 || hold.otherHolds() != 0 {
			t.Errorf("agency-hold's NMPA hold: agencies %v, other-agency %s", hold.Agencies, hold.OtherAgency)
		}
	} else if hold.Agencies != nil || hold.otherHolds() != hold.OtherAgency || !strings.Contains(r.Headline, ", other-agency time ") ||
		!strings.Contains(find(t, r, "all", "all").TimeByParty(), ", "+PartyOtherHolds+" ") {
		t.Errorf("agency-hold's NMPA hold, recorded before agencies were told apart: agencies %v, other-agency %s; headline %q; %s",
			hold.Agencies, hold.OtherAgency, r.Headline, find(t, r, "all", "all").TimeByParty())
	}
	// SAMR's time on the single window's paths is SAMR's, in the clearance and its group.
	for _, file := range []string{"single-window-granted.json", "single-window-information-needed.json", "single-window-refused.json",
		"single-window-withdrawn.json"} {
		res, ok := results[file]
		if !ok {
			t.Fatalf("no result of %s", file)
		}
		if c := FromResult(res, nil); c.Agencies[agency.SAMR] <= 0 || c.OtherAgency != c.Agencies[agency.SAMR] ||
			find(t, r, "lane", "green").AgencyShares[agency.SAMR] <= 0 {
			t.Errorf("%s: agencies %v, other-agency %s", file, c.Agencies, c.OtherAgency)
		}
	}
	// The median is the middle one of an odd count, halfway between the middle two of an even one.
	if len(released) != nReleased {
		t.Fatalf("%d released clearances, want %d", len(released), nReleased)
	}
	mid := released[nReleased/2]
	if nReleased%2 == 0 {
		mid = released[nReleased/2-1] + (released[nReleased/2]-released[nReleased/2-1])/2
	}
	for _, g := range r.Groups {
		if g.Dimension == "outcome" && g.Key == "released" && (g.Total.Median < mid-1 || g.Total.Median > mid+1) {
			t.Errorf("median of the released %s, want the middle of %d, %s", g.Total.Median, nReleased, mid)
		}
	}
	// appeal-upheld's recorded run is the one its appeal reopened, and appeal-continue-as-new's the
	// run that one continued in: both released since.
	if r.Reopened != 2 || r.ReopenedReleased != 2 {
		t.Errorf("reopened on appeal: %d, released %d; want appeal-upheld's and appeal-continue-as-new's, 2 and 2", r.Reopened, r.ReopenedReleased)
	}
	// The escalation path's document check overran and was escalated to the supervisor the
	// result names; no other path overran.
	esc := results["escalation.json"]
	if len(r.Breaches) != 1 || r.Breaches[0].DeclarationID != esc.DeclarationID || r.Breaches[0].Stage != "document-check" ||
		len(esc.Escalations) != 1 || r.Breaches[0].Supervisor != esc.Escalations[0].Supervisor || r.Breaches[0].Over <= 0 {
		t.Errorf("breaches %+v, want the escalation path's document check (escalations %+v)", r.Breaches, esc.Escalations)
	}
}
