package e2e

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/trs"
	"github.com/medsupply/customs/workflows"
)

// TestTimeReleaseStudyMatchesRecordedTimelines runs clearances on the real server and checks
// that the study read from visibility pages (each clearance's study memo, closed or running)
// carries exactly their recorded timelines, needs no call per clearance, counts a running one as
// its status query does, and counts them in the right groups.
func TestTimeReleaseStudyMatchesRecordedTimelines(t *testing.T) {
	green := submit(t, "us-nasal-cannulas-anaesthesia-masks.json")
	yellow := submit(t, "de-antibody-test-kits.json")
	running := submit(t, "us-n95-respirators-niosh.json")

	awaitOfficer(t, yellow, policy.StageDocumentCheck)
	approve(t, yellow, policy.StageDocumentCheck, "doc-li")
	awaitOfficer(t, yellow, policy.StageBiologicalReview)
	approve(t, yellow, policy.StageBiologicalReview, "hq-wang")
	awaitOfficer(t, yellow, policy.StageRelease)
	approve(t, yellow, policy.StageRelease, "rel-zhou")
	results := map[string]workflows.Result{}
	for _, ref := range []clearance.Ref{green, yellow} {
		code, res := wait(t, ref)
		if code != 0 {
			t.Fatalf("%s: exit %d (%s)", ref.Declaration, code, res.State)
		}
		results[ref.Declaration] = res
	}
	awaitOfficer(t, running, policy.StageDocumentCheck)

	query := fmt.Sprintf("WorkflowId IN ('%s', '%s', '%s')", workflowID(t, green), workflowID(t, yellow), workflowID(t, running))
	var (
		cs   []trs.Clearance
		read trs.Reading
	)
	eventually(t, "the three clearances listed with their final state", func() error {
		var err error
		cs, read, err = trs.Reader{Client: tc, Namespace: namespace}.Read(testContext(t), query)
		if err != nil {
			return err
		}
		closed := 0
		for _, c := range cs {
			if !c.Running {
				closed++
			}
		}
		if len(cs) != 3 || closed != 2 {
			return fmt.Errorf("%d listed, %d closed", len(cs), closed)
		}
		return nil
	})

	if read.FromMemo != 3 || read.Calls() != 1 {
		t.Errorf("read %+v: want all three from their memo in one page", read)
	}
	byID := map[string]trs.Clearance{}
	for _, c := range cs {
		byID[c.DeclarationID] = c
	}
	for id, res := range results {
		c := byID[id]
		if c.Elapsed != res.Elapsed.D() || len(c.Timeline) != len(res.Timeline) {
			t.Fatalf("%s: study has %s over %d stages, result %s over %d", id, c.Elapsed, len(c.Timeline), res.Elapsed, len(res.Timeline))
		}
		for i := range res.Timeline {
			if c.Timeline[i] != res.Timeline[i] {
				t.Errorf("%s stage %d: study %+v, recorded %+v", id, i, c.Timeline[i], res.Timeline[i])
			}
		}
	}
	if !byID[running.Declaration].Running || byID[running.Declaration].Timeline[0].OfficerWait <= 0 {
		t.Errorf("the running clearance %+v is not counted up to now", byID[running.Declaration])
	}
	// Read from its memo at a fixed moment, the running clearance counts as its status query
	// counted to the same moment.
	at := time.Now().Add(time.Hour).Round(0) // wall clock only, as a memo's moments are
	fromMemo, _, err := trs.Reader{Client: tc, Namespace: namespace, Now: func() time.Time { return at }}.Read(testContext(t), fmt.Sprintf("WorkflowId = '%s'", workflowID(t, running)))
	if err != nil {
		t.Fatal(err)
	}
	st, err := clearance.Status(testContext(t), tc, running)
	if err != nil {
		t.Fatal(err)
	}
	st.UpTo(at)
	if q := trs.FromStatus(st, fromMemo[0].Categories); fromMemo[0].Elapsed != q.Elapsed || len(q.Timeline) != 1 || fromMemo[0].Timeline[0] != q.Timeline[0] {
		t.Errorf("running clearance from its memo %+v, from its query %+v", fromMemo[0], q)
	}

	r := trs.Build(cs, trs.StandardOf(cs, 0), query, time.Now())
	if r.Standard != 20*24*time.Hour {
		t.Errorf("standard %s", r.Standard)
	}
	var all, bio trs.Group
	for _, g := range r.Groups {
		switch {
		case g.Dimension == "all":
			all = g
		case g.Dimension == "biological" && g.Key == "biological review":
			bio = g
		}
	}
	// The running clearance is counted apart: the statistics are of the two that ended, and its
	// document check, still waiting, is not yet within or over its allowance.
	if all.Total.Count != 2 || all.Running != 1 || all.SoFar.Count != 1 || bio.Total.Count != 1 {
		t.Fatalf("all %+v running %d so far %+v, biological %+v", all.Total, all.Running, all.SoFar, bio.Total)
	}
	var maxDoc time.Duration
	for _, c := range cs {
		if !c.Running {
			maxDoc = max(maxDoc, c.Timeline[0].Duration.D())
		}
	}
	if all.Stages[0].Stage != policy.StageDocumentCheck || all.Stages[0].Count != 2 || all.Stages[0].Max != maxDoc {
		t.Errorf("document check %+v, want 2 with max %s", all.Stages[0], maxDoc)
	}
	if !strings.HasPrefix(r.Headline, "2 released; median ") || !strings.HasSuffix(r.Headline, "; 1 still running") {
		t.Errorf("headline %q", r.Headline)
	}
	var page bytes.Buffer
	if err := trs.WriteHTML(&page, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.String(), `id="total-histogram"`) {
		t.Error("the page has no histogram")
	}
}
