package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/medsupply/customs/audit"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/trs"
	"github.com/medsupply/customs/workflows"
)

// ScaleOptions shape a run of RunScale.
type ScaleOptions struct {
	// Options give the templates (yellow or red lane: they must wait on an officer), the
	// concurrency of submissions and the ID prefix.
	Options
	// Sizes are the numbers of open clearances to measure at, ascending.
	Sizes []int
	// Samples is how many queue pages, decisions and replays each size measures.
	Samples int
	// ServerPID is the server process whose memory to report (0: not reported); DBFile the
	// SQLite file whose size to report (with its write-ahead log), empty: not reported.
	ServerPID int
	DBFile    string
	// Officer decides the sampled clearances' document checks.
	Officer string
	// Log, when not nil, is told what the run is doing.
	Log func(format string, args ...any)
}

// ScalePoint is what RunScale measured with Open clearances waiting on officers.
type ScalePoint struct {
	// Open clearances wait on officers; Submitted were started in all, Errors failed to start.
	Open      int64 `json:"open"`
	Submitted int   `json:"submitted"`
	Errors    int   `json:"errors"`
	// Elapsed is the time since the first submission until all of them waited, the time spent
	// measuring at earlier sizes left out; Rate the clearances per second that reached their
	// wait since the previous size.
	Elapsed time.Duration `json:"elapsed"`
	Rate    float64       `json:"rate"`
	// Queue is the first page (100) of an officer's queue: ClearanceStatus = 'awaiting-officer'
	// AND ClearanceStage = 'document-check', listed Samples times one after another.
	Queue Latencies `json:"queue"`
	// Decide is the update "decide" approving a document check, sent to a clearance picked at
	// random (most are not in the worker's sticky cache), until its result returns.
	Decide  Latencies `json:"decide"`
	Decided int       `json:"decided"`
	// Replay is the time to replay one open clearance's history (fetched beforehand): what a
	// sticky cache miss costs the worker. Events is that history's length.
	Replay Latencies `json:"replay"`
	Events int       `json:"events"`
	// Study is the time the Time Release Study took to read every open clearance, and how.
	Study        time.Duration `json:"study"`
	StudyRead    trs.Reading   `json:"studyRead"`
	StudyEntries int           `json:"studyEntries"`
	// WorkerRSS and ServerRSS are the resident sets now, WorkerPeak and ServerPeak the peaks so
	// far; WorkerHeap the Go heap in use after a collection (the worker runs in this process).
	WorkerRSS, WorkerPeak, WorkerHeap uint64
	ServerRSS, ServerPeak             uint64
	// DBBytes is the SQLite file's size with its write-ahead log and shared memory.
	DBBytes int64 `json:"dbBytes"`
}

// QueueQuery is the document officers' queue: the filter an officer's saved view in the Web UI
// uses, over every clearance of the namespace (as the officer's is), not only the run's.
var QueueQuery = fmt.Sprintf("%s = '%s' AND %s = '%s'", workflows.SAStatus, workflows.StateAwaitingOfficer,
	workflows.SAStage, policy.StageDocumentCheck)

// RunScale holds ever more clearances open on officers and, at each of Sizes, measures what
// officers, auditors and analysts meet at that size: the queue page, a decision, the replay a
// cache miss costs, the Time Release Study, and the memory and disk it all takes. point is called
// with each size's figures as soon as they are measured.
func RunScale(ctx context.Context, c client.Client, namespace string, o ScaleOptions, point func(ScalePoint)) error {
	if len(o.Templates) == 0 || len(o.Sizes) == 0 || o.Samples <= 0 || o.Officer == "" {
		return errors.New("scale: templates, sizes, samples and an officer are required")
	}
	logf := o.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	ids := generateIDs(o.Prefix, o.Sizes[len(o.Sizes)-1])
	t := &tally{}
	p := newPacer(o.Concurrency, o.Rate)
	defer p.stop()
	start := time.Now()
	// measuring is the time spent measuring so far, which Elapsed leaves out; failed are the
	// clearances that did not start, which no sample picks.
	var measuring time.Duration
	submitted, decided, failed := 0, map[string]bool{}, &sync.Map{}
	var last ScalePoint
	for _, size := range o.Sizes {
		var wg sync.WaitGroup
		logf("submitting up to %d clearances", size)
		for ; submitted < size; submitted++ {
			if err := p.acquire(ctx); err != nil {
				return err
			}
			d := o.Templates[submitted%len(o.Templates)]
			d.ID = ids[submitted]
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer p.release()
				if _, err := clearance.Submit(ctx, c, d); err != nil {
					t.fail(err)
					failed.Store(d.ID, true)
				}
			}()
		}
		wg.Wait()
		failed.Range(func(id, _ any) bool { decided[id.(string)] = true; return true })
		pt := ScalePoint{Submitted: submitted, Errors: t.errors}
		// Every clearance started waits at its document check, except those decided earlier.
		atDocuments := awaitingQuery(o.Prefix) + fmt.Sprintf(" AND %s = '%s'", workflows.SAStage, policy.StageDocumentCheck)
		for {
			n, err := count(ctx, c, namespace, atDocuments)
			if err != nil {
				return err
			}
			if n >= int64(submitted-len(decided)) {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
		}
		open, err := count(ctx, c, namespace, runQuery(o.Prefix)+" AND ExecutionStatus = 'Running'")
		if err != nil {
			return err
		}
		pt.Open = open
		pt.Elapsed = time.Since(start) - measuring
		pt.Rate = float64((submitted-t.errors)-(last.Submitted-last.Errors)) / (pt.Elapsed - last.Elapsed).Seconds()
		logf("%d open after %s; measuring", pt.Open, pt.Elapsed.Round(time.Second))
		if len(ids[:submitted])-len(decided) < 2*o.Samples {
			return fmt.Errorf("scale: %d clearances open to sample at %d, fewer than twice the %d samples", len(ids[:submitted])-len(decided), size, o.Samples)
		}
		began := time.Now()
		refs := make([]clearance.Ref, submitted)
		for i := range refs {
			refs[i] = clearance.Ref{Exporter: o.Templates[i%len(o.Templates)].Exporter.Code, Declaration: ids[i]}
		}
		if err := measure(ctx, c, namespace, o, refs, decided, &pt); err != nil {
			return err
		}
		measuring += time.Since(began)
		point(pt)
		last = pt
	}
	return nil
}

func count(ctx context.Context, c client.Client, namespace, query string) (int64, error) {
	resp, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: namespace, Query: query})
	if err != nil {
		return 0, fmt.Errorf("count clearances: %w", err)
	}
	return resp.GetCount(), nil
}

// measure takes one size's figures.
func measure(ctx context.Context, c client.Client, namespace string, o ScaleOptions, refs []clearance.Ref, decided map[string]bool, pt *ScalePoint) error {
	var queue []time.Duration
	for range o.Samples {
		began := time.Now()
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: namespace, Query: QueueQuery, PageSize: 100})
		if err != nil {
			return fmt.Errorf("list the queue: %w", err)
		}
		queue = append(queue, time.Since(began))
		if n := len(resp.GetExecutions()); n == 0 {
			return errors.New("the queue is empty")
		}
	}
	pt.Queue = latencies(queue)

	rnd := rand.New(rand.NewPCG(uint64(len(refs)), 7))
	pick := func() clearance.Ref {
		for {
			if r := refs[rnd.IntN(len(refs))]; !decided[r.Declaration] {
				return r
			}
		}
	}
	var replays []time.Duration
	for range o.Samples {
		id := pick()
		wid, err := id.WorkflowID()
		if err != nil {
			return err
		}
		h, err := audit.FetchHistory(ctx, c, wid, "")
		if err != nil {
			return fmt.Errorf("fetch %s: %w", id, err)
		}
		began := time.Now()
		if err := audit.Replay(h, audit.Converters{}); err != nil {
			return fmt.Errorf("replay %s: %w", id, err)
		}
		replays = append(replays, time.Since(began))
		pt.Events = len(h.GetEvents())
	}
	pt.Replay = latencies(replays)

	var decides []time.Duration
	for range o.Samples {
		id := pick()
		decided[id.Declaration] = true
		began := time.Now()
		_, err := clearance.Decide(ctx, c, id, workflows.Decision{Stage: policy.StageDocumentCheck, Officer: o.Officer, Outcome: workflows.OutcomeApprove})
		if err != nil {
			return fmt.Errorf("decide %s: %w", id, err)
		}
		decides = append(decides, time.Since(began))
		pt.Decided++
	}
	pt.Decide = latencies(decides)

	began := time.Now()
	cs, read, err := trs.Reader{Client: c, Namespace: namespace}.Read(ctx, runQuery(o.Prefix))
	if err != nil {
		return fmt.Errorf("read the study: %w", err)
	}
	pt.Study, pt.StudyRead, pt.StudyEntries = time.Since(began), read, len(cs)

	pt.WorkerHeap = heapInUse()
	pt.WorkerRSS, pt.WorkerPeak = RSS(0), PeakRSS(0)
	if o.ServerPID > 0 {
		pt.ServerRSS, pt.ServerPeak = RSS(o.ServerPID), PeakRSS(o.ServerPID)
	}
	if o.DBFile != "" {
		for _, f := range []string{o.DBFile, o.DBFile + "-wal", o.DBFile + "-shm"} {
			if st, err := os.Stat(f); err == nil {
				pt.DBBytes += st.Size()
			}
		}
	}
	return nil
}

// RSS returns a process's resident set size in bytes (VmRSS), 0 when unknown. pid 0 is this
// process.
func RSS(pid int) uint64 { return procStatus(pid, "VmRSS:") }

// readProc reads a file of /proc/PID, or of /proc/self when pid is 0.
func readProc(pid int, name string) ([]byte, error) {
	dir := "/proc/self/"
	if pid > 0 {
		dir = "/proc/" + strconv.Itoa(pid) + "/"
	}
	return os.ReadFile(dir + name)
}

func procStatus(pid int, field string) uint64 {
	b, err := readProc(pid, "status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			if f := strings.Fields(v); len(f) >= 1 {
				kb, _ := strconv.ParseUint(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
