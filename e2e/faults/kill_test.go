package faults

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/register"
)

// kill is one SIGKILL of a worker and what it caught in flight.
type kill struct {
	// notices is how many release notices the register held when the worker was killed.
	notices int
	// running is how many clearances had not ended.
	running int
	// heldClearances and heldActivities are the clearances with an activity the dead worker
	// had started, and those activities: each waits out its start-to-close timeout.
	heldClearances, heldActivities int
}

func (k kill) String() string {
	return fmt.Sprintf("after %d notices, %d clearances running, %d activities of %d clearances held by the dead worker",
		k.notices, k.running, k.heldActivities, k.heldClearances)
}

// killWorker waits until the register holds at least notices notices, then SIGKILLs the worker
// and records what was in flight.
func killWorker(t *testing.T, c client.Client, w *workerProcess, reg *register.SQLite, out *outcomes,
	refs []clearance.Ref, notices int) kill {
	t.Helper()
	k := kill{notices: awaitNotices(t, reg, notices)}
	k.running = out.running(len(refs))
	w.kill(t)
	k.heldClearances, k.heldActivities = heldBy(t, c, refs, w)
	return k
}

// greenThenYellow is green green-lane declarations, the examples in turn, then yellow N95
// declarations, which wait on a document officer; all under fresh IDs.
func greenThenYellow(t *testing.T, green, yellow int) []declaration.Declaration {
	t.Helper()
	var decls []declaration.Declaration
	for i := range green {
		decls = append(decls, fresh(t, greenExamples[i%len(greenExamples)]))
	}
	for range yellow {
		decls = append(decls, fresh(t, exN95))
	}
	return decls
}

// TestWorkerKilledMidRun runs the worker binary on its own, SIGKILLs it twice while clearances
// are in flight (after the first few release notices, then again after more), each time starting
// a new worker process on the same data directory, while officers decide the yellow clearances
// across the kills. Every clearance must end released with exactly one notice in the register,
// the one its result carries, and every exporter must be told.
func TestWorkerKilledMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the activity timeout of work a killed worker held (about a minute)")
	}
	t.Parallel()
	began := time.Now()
	ns := newNamespace(t)
	address := srv.GetFrontendHostPort()
	c := dial(t, address, ns, "")
	dataDir := t.TempDir()
	w := startWorker(t, address, ns, dataDir, "worker-1")
	awaitPolling(t, c, w)
	reg := openRegister(t, filepath.Join(dataDir, "releases.db"))

	const green, yellow = 40, 6
	ids := submitAll(t, c, greenThenYellow(t, green, yellow)...)
	out := awaitResults(c, ids, recoveryTimeout)
	officers := decideAll(c, ids[green:], approval(policy.StageDocumentCheck, "doc-li"), recoveryTimeout)

	// The first kill comes after the first few notices; the second once the next worker has
	// issued ten more.
	var kills []kill
	notices := 3
	for i := range 2 {
		k := killWorker(t, c, w, reg, out, ids, notices)
		kills = append(kills, k)
		w = startWorker(t, address, ns, dataDir, fmt.Sprintf("worker-%d", i+2))
		notices = k.notices + 10
	}

	results := out.wait(t)
	officers.wait(t)
	assertReleasedOnce(t, reg, ids, results)
	repeats := assertNotifiedAtLeastOnce(t, filepath.Join(dataDir, "notifications.jsonl"), ids)
	retried := 0
	for _, r := range activityRuns(t, c, ids) {
		if r.attempt > 1 {
			retried++
		}
	}
	if kills[0].running == 0 || kills[1].running == 0 {
		t.Errorf("a kill found no clearance running: %v", kills)
	}

	t.Logf("covered: %d clearances (%d green, %d yellow decided by an officer in %d decide calls), %d worker SIGKILLs:",
		len(ids), green, yellow, officers.tries.Load(), len(kills))
	for i, k := range kills {
		t.Logf("covered:   kill %d %v", i+1, k)
	}
	t.Logf("covered: all %d released, %d notices in the register, none twice; %d activities retried after the kills; "+
		"%d repeated release notifications (at least once by design); %s", len(ids), len(ids), retried, repeats, since(began))
}

// TestTwoWorkersOneKilled runs two worker binaries on one task queue and data directory and
// SIGKILLs one mid-run: the other finishes all the work alone, with exactly one notice per
// declaration.
func TestTwoWorkersOneKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the activity timeout of work a killed worker held (about a minute)")
	}
	t.Parallel()
	began := time.Now()
	ns := newNamespace(t)
	address := srv.GetFrontendHostPort()
	c := dial(t, address, ns, "")
	dataDir := t.TempDir()
	doomed := startWorker(t, address, ns, dataDir, "doomed")
	survivor := startWorker(t, address, ns, dataDir, "survivor")
	awaitPolling(t, c, doomed)
	awaitPolling(t, c, survivor)
	reg := openRegister(t, filepath.Join(dataDir, "releases.db"))

	const n = 30
	var decls []declaration.Declaration
	for i := range n {
		decls = append(decls, fresh(t, greenExamples[i%len(greenExamples)]))
	}
	ids := submitAll(t, c, decls...)
	out := awaitResults(c, ids, recoveryTimeout)
	k := killWorker(t, c, doomed, reg, out, ids, 3)
	if k.running == 0 {
		t.Errorf("the kill found no clearance running: %v", k)
	}

	results := out.wait(t)
	assertReleasedOnce(t, reg, ids, results)
	repeats := assertNotifiedAtLeastOnce(t, filepath.Join(dataDir, "notifications.jsonl"), ids)
	if !survivor.running() {
		t.Errorf("the surviving worker exited: %v", survivor.err)
	}

	byDoomed, bySurvivor, retried := 0, 0, 0
	for _, r := range activityRuns(t, c, ids) {
		switch {
		case strings.HasPrefix(r.identity, doomed.identityPrefix()):
			byDoomed++
		case strings.HasPrefix(r.identity, survivor.identityPrefix()):
			bySurvivor++
		default:
			t.Errorf("%s: %s attempt %d ran on %q, neither worker", r.workflowID, r.activity, r.attempt, r.identity)
		}
		if r.attempt > 1 {
			retried++
			if !strings.HasPrefix(r.identity, survivor.identityPrefix()) {
				t.Errorf("%s: %s retried (attempt %d) on %q, not the survivor", r.workflowID, r.activity, r.attempt, r.identity)
			}
		}
	}
	if byDoomed == 0 || bySurvivor == 0 {
		t.Errorf("activities completed: %d by the killed worker, %d by the survivor; want both to have worked", byDoomed, bySurvivor)
	}

	t.Logf("covered: %d green clearances on 2 workers, 1 SIGKILL %v", n, k)
	t.Logf("covered: all %d released, %d notices in the register, none twice; activities completed: %d by the killed worker, "+
		"%d by the survivor, %d of them retried after the kill; %d repeated release notifications (at least once by design); %s",
		n, n, byDoomed, bySurvivor, retried, repeats, since(began))
}
