package loadgen

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/trs"
	"github.com/medsupply/customs/workflows"
)

// StudyCopiesTaskQueue is where RunStudyVolume starts its copies: no worker polls it, so a copy
// never runs and keeps the study memo it was started with.
const StudyCopiesTaskQueue = "customs-study-copies"

// StudyPoint is the Time Release Study read over Clearances clearances.
type StudyPoint struct {
	Clearances int `json:"clearances"`
	// The reads of the study's reader.
	StudyReads
	// Plain, when compared, are the reads of the plain reader (one listing of pages, the reader
	// before ranges), taken in turn with the others at the same size.
	Plain *StudyReads `json:"plain,omitempty"`
	// Populate is the time it took to start the copies since the previous size.
	Populate time.Duration `json:"populate"`
}

// StudyReads are the times of reads of the study at one size: Read is the median, Fastest and
// Slowest the others; PerSecond is clearances per second at the median.
type StudyReads struct {
	Read, Fastest, Slowest time.Duration
	PerSecond              float64     `json:"perSecond"`
	Reading                trs.Reading `json:"reading"`
}

// RunStudyVolume measures the study's read at each of sizes: it clears the templates once each
// through the workers that serve the server (real clearances, whose memos the workflow wrote),
// then starts copies of them, each with its original's declaration, search attributes and study
// memo, on a task queue no worker polls, until sizes[i] clearances are listed, and reads the
// study of all of them reads times at each size. What the study reads (a visibility row with its
// memo) is the same for a copy as for its original. With plain it also times the plain reader
// as many times at each size, taking turns with the study's reader.
func RunStudyVolume(ctx context.Context, c client.Client, namespace string, o Options, sizes []int, reads int, plain bool, point func(StudyPoint)) error {
	if len(o.Templates) == 0 || len(sizes) == 0 || reads <= 0 {
		return errors.New("study volume: templates, sizes and reads are required")
	}
	ids := generateIDs(o.Prefix, len(o.Templates))
	type original struct {
		decl  declaration.Declaration
		study workflows.Study
	}
	var originals []original
	for i, d := range o.Templates {
		d.ID = ids[i]
		run, err := clearance.Submit(ctx, c, d)
		if err != nil {
			return fmt.Errorf("submit %s: %w", d.ID, err)
		}
		var r workflows.Result
		if err := run.Get(ctx, &r); err != nil {
			return fmt.Errorf("clear %s: %w", d.ID, err)
		}
		originals = append(originals, original{decl: d})
	}
	query := runQuery(o.Prefix)
	// Visibility lists a clearance's final memo a moment after it ends.
	studies, err := finalStudies(ctx, c, namespace, query, len(originals))
	if err != nil {
		return err
	}
	for i := range originals {
		originals[i].study = studies[originals[i].decl.ID]
	}

	listed := len(originals)
	p := newPacer(o.Concurrency, o.Rate)
	defer p.stop()
	t := &tally{}
	for _, size := range sizes {
		began := time.Now()
		var wg sync.WaitGroup
		for ; listed < size; listed++ {
			if err := p.acquire(ctx); err != nil {
				return err
			}
			orig := originals[listed%len(originals)]
			d := orig.decl
			d.ID = fmt.Sprintf("%s-copy-%d", o.Prefix, listed)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer p.release()
				opts, err := clearance.StartOptions(d)
				if err == nil {
					opts.TaskQueue = StudyCopiesTaskQueue
					opts.Memo = map[string]any{workflows.MemoStudy: orig.study}
					_, err = c.ExecuteWorkflow(ctx, opts, workflows.WorkflowName, workflows.Input{Declaration: d})
				}
				if err != nil {
					t.fail(err)
				}
			}()
		}
		wg.Wait()
		if t.errors > 0 {
			return fmt.Errorf("%d copies failed to start: %s", t.errors, t.first)
		}
		pt := StudyPoint{Clearances: size, Populate: time.Since(began)}
		// Visibility lists a started workflow a moment later.
		for {
			n, err := count(ctx, c, namespace, query)
			if err != nil {
				return err
			}
			if n >= int64(size) {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
		var times, plainTimes []time.Duration
		var plainRead trs.Reading
		for i := range reads {
			for turn := range 2 {
				usePlain := turn == i%2
				if usePlain && !plain {
					continue
				}
				began := time.Now()
				cs, read, err := trs.Reader{Client: c, Namespace: namespace, Plain: usePlain}.Read(ctx, query)
				if err != nil {
					return err
				}
				took := time.Since(began)
				if len(cs) != size || read.FromMemo != size {
					return fmt.Errorf("read %d clearances (%+v), want %d from their memo", len(cs), read, size)
				}
				if usePlain {
					plainTimes, plainRead = append(plainTimes, took), read
				} else {
					times, pt.Reading = append(times, took), read
				}
			}
		}
		pt.StudyReads = studyReads(size, times, pt.Reading)
		if plain {
			r := studyReads(size, plainTimes, plainRead)
			pt.Plain = &r
		}
		point(pt)
	}
	return nil
}

func studyReads(size int, times []time.Duration, read trs.Reading) StudyReads {
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	r := StudyReads{Read: times[len(times)/2], Fastest: times[0], Slowest: times[len(times)-1], Reading: read}
	r.PerSecond = float64(size) / r.Read.Seconds()
	return r
}

// finalStudies waits until visibility lists n completed clearances under query, each with its
// final study memo, and returns the studies by declaration ID.
func finalStudies(ctx context.Context, c client.Client, namespace, query string, n int) (map[string]workflows.Study, error) {
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: namespace,
			Query: query + " AND ExecutionStatus = 'Completed'", PageSize: int32(n)})
		if err != nil {
			return nil, fmt.Errorf("list the originals: %w", err)
		}
		studies := map[string]workflows.Study{}
		for _, e := range resp.GetExecutions() {
			p, ok := e.GetMemo().GetFields()[workflows.MemoStudy]
			if !ok {
				return nil, fmt.Errorf("%s has no study memo", e.GetExecution().GetWorkflowId())
			}
			var s workflows.Study
			if err := converter.GetDefaultDataConverter().FromPayload(p, &s); err != nil {
				return nil, err
			}
			if s.State.Final() {
				var id string
				if p, ok := e.GetSearchAttributes().GetIndexedFields()[workflows.SADeclarationID]; ok {
					if err := converter.GetDefaultDataConverter().FromPayload(p, &id); err != nil {
						return nil, err
					}
				}
				studies[id] = s
			}
		}
		if len(studies) == n {
			return studies, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%d of %d originals listed with their final study: %w", len(studies), n, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
