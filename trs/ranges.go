package trs

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"go.temporal.io/api/workflowservice/v1"
)

// rangeFill is the share of a page a range is cut to hold: ranges are cut from an estimate, and
// a range that holds more than a page takes a second page.
const rangeFill = 0.75

// maxRanges bounds the number of ranges one read is split into.
const maxRanges = 4096

// lookbacks are the moments, before now, at which split counts the query's clearances to
// estimate where they lie in ExecutionTime: denser near now, where a study at volume usually is,
// and reaching back ten years. Few, since each count costs visibility a look at the clearances
// it counts, and servers limit visibility calls per second.
var lookbacks = []time.Duration{
	10 * 365 * 24 * time.Hour, 2 * 365 * 24 * time.Hour, 365 * 24 * time.Hour, 90 * 24 * time.Hour,
	30 * 24 * time.Hour, 7 * 24 * time.Hour, 24 * time.Hour, 6 * time.Hour, time.Hour,
	20 * time.Minute, 5 * time.Minute, time.Minute, 0,
}

// split reads the first page of q, and when more follow, the rest as disjoint ExecutionTime
// ranges, up to streams at once, merged into visibility's order.
func (rd *reading) split(ctx context.Context, q string) ([]item, Reading, error) {
	first, read, token, err := rd.pages(ctx, q, nil, nil, true)
	if err != nil || len(token) == 0 {
		return first, read, err
	}
	n, err := rd.count(ctx, q)
	read.Counts++
	if err != nil {
		return nil, read, fmt.Errorf("count clearances: %w", err)
	}
	if n <= 2*int64(rd.size) {
		// A page or so more: the listing goes on.
		rest, r, _, err := rd.pages(ctx, q, nil, token, false)
		read.add(r)
		return append(first, rest...), read, err
	}
	parts := min(int(math.Ceil(float64(n)/(float64(rd.size)*rangeFill))), maxRanges)
	cuts, r, err := rd.cuts(ctx, q, n, parts)
	read.add(r)
	if err != nil {
		return nil, read, err
	}
	// The ranges cover the first page again: its runs are left out, undecoded.
	skip := make(map[string]bool, len(first))
	for _, it := range first {
		skip[it.at.runID] = true
	}
	rest, r, err := rd.readRanges(ctx, q, cuts, skip)
	read.add(r)
	read.Ranges = r.Ranges
	if err != nil {
		return nil, read, err
	}
	all := append(first, rest...)
	sort.SliceStable(all, func(i, j int) bool { return all[i].at.before(all[j].at) })
	return all, read, nil
}

// readRanges reads q in the ranges of ExecutionTime the ascending cuts make, up to streams at
// once, leaving out the runs in skip, and merges them into visibility's order.
func (rd *reading) readRanges(ctx context.Context, q string, cuts []time.Time, skip map[string]bool) ([]item, Reading, error) {
	var read Reading
	queries := rangeQueries(q, cuts)
	read.Ranges = len(queries)

	type part struct {
		items []item
		read  Reading
		err   error
	}
	results := make([]part, len(queries))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(rd.streams, len(queries)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				p := &results[i]
				p.items, p.read, p.err = rd.list(ctx, queries[i], skip)
				if p.err != nil {
					cancel()
				}
			}
		}()
	}
feed:
	for i := range queries {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()

	var (
		all []item
		err error
	)
	for _, p := range results {
		read.add(p.read)
		if p.err != nil && err == nil {
			err = p.err
		}
		all = append(all, p.items...)
	}
	if err == nil {
		err = ctx.Err() // ranges left unread
	}
	if err != nil {
		return nil, read, err
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].at.before(all[j].at) })
	return all, read, nil
}

// count counts the executions q selects.
func (rd *reading) count(ctx context.Context, q string) (int64, error) {
	resp, err := rd.Client.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: rd.Namespace, Query: q})
	if err != nil {
		return 0, err
	}
	return resp.GetCount(), nil
}

// cuts returns up to parts-1 ascending moments that cut the n executions q selects into parts
// ranges of ExecutionTime holding about as many each. It counts them before each of the
// lookbacks (after it, for the last hour, the smaller side when a study is recent: a count costs
// visibility a look at each execution it counts) and places the cuts between the lookbacks as
// if the executions were spread evenly between two of them. The ranges are disjoint and cover
// every moment whatever the estimate: it only decides how even they are.
func (rd *reading) cuts(ctx context.Context, q string, n int64, parts int) ([]time.Time, Reading, error) {
	var read Reading
	now := time.Now().UTC().Truncate(time.Millisecond)
	at := make([]time.Time, len(lookbacks))
	below := make([]int64, len(lookbacks)+1) // below[i]: executions before at[i]; below[len]: all
	below[len(lookbacks)] = n
	errs := make([]error, len(lookbacks))
	var wg sync.WaitGroup
	sem := make(chan struct{}, rd.streams)
	for i, back := range lookbacks {
		at[i] = now.Add(-back)
		after := back <= time.Hour
		op := "<"
		if after {
			op = ">="
		}
		read.Counts++
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := rd.count(ctx, fmt.Sprintf("%s AND ExecutionTime %s '%s'", q, op, at[i].Format(time.RFC3339Nano)))
			if after {
				c = n - c
			}
			below[i], errs[i] = max(c, 0), err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, read, fmt.Errorf("count clearances by time: %w", err)
		}
	}
	return cutsFrom(at, below, parts), read, nil
}

// cutsFrom places parts-1 cuts by the counts below[i] of executions before at[i] (ascending
// moments), below[len(at)] being all of them: as if the executions were spread evenly between
// two moments.
func cutsFrom(at []time.Time, below []int64, parts int) []time.Time {
	total := below[len(at)]
	if total == 0 {
		return nil
	}
	var cuts []time.Time
	j := 0
	for k := 1; k < parts; k++ {
		want := float64(total) * float64(k) / float64(parts)
		for j < len(at) && float64(below[j]) < want {
			j++
		}
		if j == len(at) {
			break // the rest start after the last moment: the last range holds them
		}
		var t time.Time
		if j == 0 || below[j] == below[j-1] {
			t = at[j]
		} else {
			f := min(max((want-float64(below[j-1]))/float64(below[j]-below[j-1]), 0), 1)
			t = at[j-1].Add(time.Duration(f * float64(at[j].Sub(at[j-1]))))
		}
		t = t.Truncate(time.Millisecond)
		if len(cuts) == 0 || t.After(cuts[len(cuts)-1]) {
			cuts = append(cuts, t)
		}
	}
	return cuts
}

// rangeQueries returns q restricted to each range the ascending cuts make: before the first,
// between each two, and from the last on.
func rangeQueries(q string, cuts []time.Time) []string {
	if len(cuts) == 0 {
		return []string{q}
	}
	lit := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	out := []string{fmt.Sprintf("%s AND ExecutionTime < '%s'", q, lit(cuts[0]))}
	for i := 1; i < len(cuts); i++ {
		out = append(out, fmt.Sprintf("%s AND ExecutionTime >= '%s' AND ExecutionTime < '%s'", q, lit(cuts[i-1]), lit(cuts[i])))
	}
	return append(out, fmt.Sprintf("%s AND ExecutionTime >= '%s'", q, lit(cuts[len(cuts)-1])))
}
