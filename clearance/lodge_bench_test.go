package clearance_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/workflows"
)

// BenchmarkLodgementRoundTrip measures what the exporter waits, from the call to the answer
// (registration number, lane, what happens next), lodging a yellow-lane declaration against an
// in-process server with a clearance worker, each way in turn in each iteration so that all meet
// the same machine: start, then ask the status every clearance.AnswerPoll until it says as much
// (start+poll, as clients lodged before Update-with-Start), and Update-with-Start (Lodge); and,
// for scale, the start alone, which answers nothing. It reports the median and 95th percentile of
// each in milliseconds, the ratio of Update-with-Start's median to start+poll's, and the calls of
// the workflow service each made per lodgement.
//
//	go test ./clearance -run '^$' -bench LodgementRoundTrip -benchtime 40x
func BenchmarkLodgementRoundTrip(b *testing.B) {
	s := startLodgeStack(b, nil)
	ctx := context.Background()
	base := exampleOf(b, "de-antibody-test-kits.json") // yellow lane: answered when a document officer is awaited
	ways := []struct {
		name  string
		lodge func(context.Context, declaration.Declaration) (clearance.Lodged, error)
	}{
		{"start-alone", func(ctx context.Context, d declaration.Declaration) (clearance.Lodged, error) {
			run, err := clearance.Submit(ctx, s.c, d)
			if err != nil {
				return clearance.Lodged{}, err
			}
			// The start answers nothing: what the exporter waited for before asking the status.
			return clearance.Lodged{WorkflowID: run.GetID(), Answered: true, Lodgement: workflows.Lodgement{Accepted: true}}, nil
		}},
		{"start+poll", func(ctx context.Context, d declaration.Declaration) (clearance.Lodged, error) {
			return clearance.StartAndPoll(ctx, s.c, d)
		}},
		{"update-with-start", func(ctx context.Context, d declaration.Declaration) (clearance.Lodged, error) {
			return clearance.Lodge(ctx, s.c, d)
		}},
	}
	took := make([][]time.Duration, len(ways))
	calls := make([]int, len(ways))
	// One lodgement each way first: the worker's caches and the server's task queues warm up.
	for i := -1; i < b.N; i++ {
		for k := range ways {
			w := ways[(k+i+1)%len(ways)] // alternate which goes first
			d := base
			d.ID = fmt.Sprintf("LB-BENCH-%d-%d", i+1, (k+i+1)%len(ways))
			s.calls.take()
			began := time.Now()
			l, err := w.lodge(ctx, d)
			elapsed := time.Since(began)
			n := 0
			for _, c := range s.calls.take() {
				n += c
			}
			if err != nil || !l.Answered || !l.Accepted {
				b.Fatalf("%s of %s: answered %v, accepted %v, %v", w.name, d.ID, l.Answered, l.Accepted, err)
			}
			if i < 0 {
				continue
			}
			j := (k + i + 1) % len(ways)
			took[j] = append(took[j], elapsed)
			calls[j] += n
		}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	pct := func(ds []time.Duration, p float64) time.Duration {
		sorted := slices.Clone(ds)
		slices.Sort(sorted)
		return sorted[int(p*float64(len(sorted)-1))]
	}
	for j, w := range ways {
		b.ReportMetric(ms(pct(took[j], 0.5)), w.name+"-p50-ms")
		b.ReportMetric(ms(pct(took[j], 0.95)), w.name+"-p95-ms")
		b.ReportMetric(float64(calls[j])/float64(b.N), w.name+"-calls")
	}
	b.ReportMetric(float64(pct(took[2], 0.5))/float64(pct(took[1], 0.5)), "p50-ratio")
}

// exampleOf reads and validates an example declaration.
func exampleOf(tb testing.TB, name string) declaration.Declaration {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "examples", name))
	if err != nil {
		tb.Fatal(err)
	}
	d, err := declaration.ParseAndValidate(raw)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}
