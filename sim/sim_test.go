package sim

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

const (
	yellowExample  = "../examples/us-n95-respirators-niosh.json"                           // yellow lane: a document officer, then released
	missingExample = "../examples/missing-documents-quality-declaration-thermometers.json" // the document check finds an error
)

// staff is one officer per role, or counts given as role=count pairs.
func staff(t *testing.T, spec string) map[policy.Role]int {
	t.Helper()
	base := map[policy.Role]int{}
	for _, r := range OfficerRoles {
		base[r] = 1
	}
	o, err := ParseOfficers(spec, base)
	require.NoError(t, err)
	return o
}

func mix(t *testing.T, spec string) []MixEntry {
	t.Helper()
	m, err := LoadMix(spec)
	require.NoError(t, err)
	return m
}

func run(t testing.TB, cfg Config) *Outcome {
	t.Helper()
	if cfg.ExporterTime == nil {
		cfg.ExporterTime = Fixed(24 * time.Hour)
	}
	out, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	require.Len(t, out.Results, cfg.N)
	return out
}

func stage(r workflows.Result, s policy.Stage) (workflows.StageRecord, bool) {
	for _, x := range r.Timeline {
		if x.Stage == s {
			return x, true
		}
	}
	return workflows.StageRecord{}, false
}

// One document officer takes exactly 10h per decision and a yellow-lane declaration arrives
// every hour: the queue only grows, the officer never idles after the first arrival, and the
// n-th clearance's document check ends when the officer has decided n of them, at n*10h after
// the first arrival. It arrived at (n-1)*1h, so its check took n*10h - (n-1)*1h.
func TestQueueingByHand(t *testing.T) {
	out := run(t, Config{N: 50, Seed: 7, Arrivals: Fixed(time.Hour), Mix: mix(t, yellowExample),
		ExpeditedShare: 0, Officers: staff(t, ""), OfficerTime: Fixed(10 * time.Hour)})

	for i, r := range out.Results {
		n := time.Duration(i + 1)
		require.Equal(t, workflows.StateReleased, r.State, r.DeclarationID)
		require.Equal(t, policy.LaneYellow, r.Lane, r.DeclarationID)
		require.Equal(t, DefaultStart.Add((n-1)*time.Hour), r.Submitted.In(DefaultStart.Location()), r.DeclarationID)
		doc, ok := stage(r, policy.StageDocumentCheck)
		require.True(t, ok)
		require.Equal(t, n*10*time.Hour-(n-1)*time.Hour, doc.Duration.D(), "clearance %d", i+1)
		require.Equal(t, doc.Duration, doc.OfficerWait, "clearance %d: all of it is waiting for the officer", i+1)
		// Nothing else waits: the total is the document check.
		require.Equal(t, doc.Duration, r.Elapsed, "clearance %d", i+1)
		require.Len(t, r.Decisions, 3, "document check by the officer, then certification and release automatically")
		require.Equal(t, workflows.ViaSignal, r.Decisions[0].Via)
		require.Equal(t, "document-officer-1", r.Decisions[0].Officer)
	}
	require.Equal(t, 50, out.Stats.Decisions)
	require.Equal(t, 1.0, out.Stats.Officers[0].Utilisation, "the document officer works from the first arrival to the last decision")
	// By the time the first decision is out (10h) nine more have arrived; the queue peaks when
	// the last one arrives at 49h, while the officer works on the fifth.
	require.Equal(t, 45, out.Stats.Officers[0].MaxQueue)
	// 18d 19h for the last: 10% of the 50 keep the 2-day allowance, all keep the 20 days.
	require.InDelta(t, 1.0, out.Headline.Rows[0].Within, 1e-9)
}

// More officers drain the same arrivals faster.
func TestMoreOfficersShortenClearances(t *testing.T) {
	m, err := DefaultMix("../examples")
	require.NoError(t, err)
	cfg := Config{N: 150, Seed: 11, Arrivals: Exponential{Avg: time.Hour}, Mix: m, ExpeditedShare: -1,
		OfficerTime: Exponential{Avg: 2 * time.Hour}, ExporterTime: Exponential{Avg: 12 * time.Hour}, RequestShare: 0.5}
	var means []time.Duration
	var firsts []time.Time
	for _, spec := range []string{"",
		"document-officer=2,health-quarantine-officer=2,certification-officer=2,inspection-officer=2,release-officer=2",
		"document-officer=4,health-quarantine-officer=4,certification-officer=4,inspection-officer=4,release-officer=4"} {
		cfg.Officers = staff(t, spec)
		out := run(t, cfg)
		means = append(means, out.Report.Groups[0].Total.Mean)
		firsts = append(firsts, out.Results[len(out.Results)-1].Submitted)
	}
	t.Logf("mean total with 1, 2, 4 officers per role: %v", means)
	require.Greater(t, means[0], means[1])
	require.Greater(t, means[1], means[2])
	require.Equal(t, firsts[0], firsts[2], "the same seed gives the same arrivals whatever the staffing")
}

// Expedited clearances run under the shorter allowances: a document check that takes a day
// overruns the expedited 12 hours and is escalated, and keeps the standard 2 days.
func TestExpeditedAllowances(t *testing.T) {
	out := run(t, Config{N: 24, Seed: 3, Arrivals: Fixed(3 * time.Hour), Mix: mix(t, yellowExample),
		ExpeditedShare: 0.5, Officers: staff(t, "document-officer=10"), OfficerTime: Fixed(24 * time.Hour)})

	var expedited, standard int
	for _, r := range out.Results {
		doc, ok := stage(r, policy.StageDocumentCheck)
		require.True(t, ok)
		require.Equal(t, 24*time.Hour, doc.Duration.D(), "no queue: ten officers for eight at a time")
		if r.Expedited {
			expedited++
			require.Equal(t, 12*time.Hour, doc.Allowance.D())
			require.True(t, doc.Escalated)
			require.Len(t, r.Escalations, 1)
			require.Equal(t, policy.StageDocumentCheck, r.Escalations[0].Stage)
			require.Equal(t, doc.Started.Add(12*time.Hour), r.Escalations[0].At)
			require.Equal(t, "supervisor-1", r.Escalations[0].Supervisor)
		} else {
			standard++
			require.Equal(t, 48*time.Hour, doc.Allowance.D())
			require.False(t, doc.Escalated)
			require.Empty(t, r.Escalations)
		}
	}
	require.NotZero(t, expedited)
	require.NotZero(t, standard)
	rows := map[string]HeadlineRow{}
	for _, r := range out.Headline.Rows {
		rows[r.Procedure] = r
	}
	require.Equal(t, 1.0, rows["expedited"].Escalated)
	require.Equal(t, 0.0, rows["standard"].Escalated)
	require.Equal(t, expedited, rows["expedited"].Released)
}

// With the due-time queue an officer takes expedited clearances first, since their allowances
// end first; in arrival order they wait as long as the others.
func TestDueQueueServesExpeditedFirst(t *testing.T) {
	cfg := Config{N: 40, Seed: 5, Arrivals: Fixed(time.Hour), Mix: mix(t, yellowExample), ExpeditedShare: 0.5,
		Officers: staff(t, ""), OfficerTime: Fixed(90 * time.Minute)}
	mean := func(out *Outcome, proc string) time.Duration {
		for _, r := range out.Headline.Rows {
			if r.Procedure == proc {
				return r.Mean
			}
		}
		t.Fatalf("no %s row", proc)
		return 0
	}
	fifo := run(t, cfg)
	cfg.Queue = QueueDue
	due := run(t, cfg)
	t.Logf("expedited/standard mean: fifo %v/%v, due %v/%v", mean(fifo, "expedited"), mean(fifo, "standard"),
		mean(due, "expedited"), mean(due, "standard"))
	require.Less(t, mean(due, "expedited"), mean(fifo, "expedited"))
	require.Less(t, mean(due, "expedited"), mean(due, "standard"))
}

// An officer who finds errors requests information; the exporter's answer (the real
// supply-documents update) comes a day later, the checks run again and the officer approves.
// An answer later than the information deadline finds the declaration lapsed.
func TestRequestForInformation(t *testing.T) {
	cfg := Config{N: 4, Seed: 1, Arrivals: Fixed(10 * 24 * time.Hour), Mix: mix(t, missingExample), ExpeditedShare: 0,
		Officers: staff(t, ""), OfficerTime: Fixed(time.Hour), ExporterTime: Fixed(24 * time.Hour), RequestShare: 1}
	out := run(t, cfg)
	for _, r := range out.Results {
		require.Equal(t, workflows.StateReleased, r.State, r.DeclarationID)
		doc, _ := stage(r, policy.StageDocumentCheck)
		require.Equal(t, 26*time.Hour, doc.Duration.D(), "an hour to ask, a day to answer, an hour to approve")
		require.Equal(t, 24*time.Hour, doc.ExporterWait.D())
		require.Equal(t, 2, doc.CheckRuns)
		var outcomes []workflows.Outcome
		for _, d := range r.Decisions {
			if d.Via == workflows.ViaSignal {
				outcomes = append(outcomes, d.Outcome)
			}
		}
		require.Equal(t, []workflows.Outcome{workflows.OutcomeRequestInformation, workflows.OutcomeApprove}, outcomes)
		require.Contains(t, r.Decisions[0].Requested, "missing-quality-declaration")
		require.Empty(t, r.Decisions[1].Reason, "the answer cleared the finding: a plain approval")
	}
	require.Equal(t, 4, out.Stats.Requests)
	require.Equal(t, 4, out.Stats.Supplies)

	cfg.ExporterTime = Fixed(6 * 24 * time.Hour) // the deadline is 5 days
	out = run(t, cfg)
	for _, r := range out.Results {
		require.Equal(t, workflows.StateLapsed, r.State, r.DeclarationID)
	}
	require.Equal(t, 3, out.Stats.LateSupplies, "the last answer would come after the run has ended")
	require.Equal(t, 4, out.Headline.Lapsed)
}

// A seed gives one run, whatever the test environment's goroutines do.
func TestSameSeedSameRun(t *testing.T) {
	m, err := DefaultMix("../examples")
	require.NoError(t, err)
	cfg := Config{N: 120, Seed: 42, Arrivals: Exponential{Avg: 40 * time.Minute}, Mix: m, ExpeditedShare: 0.3,
		Officers: DefaultOfficers(), OfficerTime: LogNormal{Median: time.Hour, P90: 6 * time.Hour},
		ExporterTime: LogNormal{Median: 24 * time.Hour, P90: 96 * time.Hour}, RequestShare: 0.7}
	elapsed := func(o *Outcome) []time.Duration {
		var out []time.Duration
		for _, r := range o.Results {
			out = append(out, r.Elapsed.D())
		}
		return out
	}
	a, b := run(t, cfg), run(t, cfg)
	require.Equal(t, elapsed(a), elapsed(b))
	cfg.Seed = 43
	require.NotEqual(t, elapsed(a), elapsed(run(t, cfg)))
}

// Cancelling the context stops a run early.
func TestCancel(t *testing.T) {
	m, err := DefaultMix("../examples")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err = Run(ctx, Config{N: 100000, Arrivals: Exponential{Avg: time.Hour}, Mix: m, ExpeditedShare: -1,
		Officers: DefaultOfficers(), OfficerTime: Fixed(time.Hour), ExporterTime: Fixed(time.Hour)})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(began), 10*time.Second)
}

func TestParseDistribution(t *testing.T) {
	for in, want := range map[string]Distribution{
		"fixed:10h":                  Fixed(10 * time.Hour),
		"exponential:mean=4h":        Exponential{Avg: 4 * time.Hour},
		"exp:mean=1d":                Exponential{Avg: 24 * time.Hour},
		"lognormal:median=4h,p90=2d": LogNormal{Median: 4 * time.Hour, P90: 48 * time.Hour},
		"uniform:min=1h,max=3h":      Uniform{Min: time.Hour, Max: 3 * time.Hour},
	} {
		got, err := ParseDistribution(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "fixed:", "normal:mean=1h", "lognormal:median=4h", "lognormal:median=4h,p90=1h",
		"exponential:mean=-1h", "exponential:mean=1h,sd=2h", "uniform:min=3h,max=1h"} {
		_, err := ParseDistribution(bad)
		require.Error(t, err, bad)
	}
	for d, want := range map[Distribution]string{Fixed(90 * time.Minute): "fixed:1h30m", Exponential{Avg: time.Hour}: "exponential:mean=1h",
		LogNormal{Median: 4 * time.Hour, P90: 48 * time.Hour}: "lognormal:median=4h,p90=2d", Fixed(90 * time.Second): "fixed:1m30s"} {
		require.Equal(t, want, d.String())
		back, err := ParseDistribution(want)
		require.NoError(t, err)
		require.Equal(t, d, back)
	}
	a, err := ParseArrivals("30m")
	require.NoError(t, err)
	require.Equal(t, Exponential{Avg: 30 * time.Minute}, a)
}

// The lognormal keeps its median and 90th percentile.
func TestLogNormalQuantiles(t *testing.T) {
	d := LogNormal{Median: 4 * time.Hour, P90: 48 * time.Hour}
	r := rand.New(rand.NewPCG(1, 2))
	xs := make([]time.Duration, 40000)
	for i := range xs {
		xs[i] = d.Sample(r)
	}
	slices.Sort(xs)
	require.InEpsilon(t, float64(4*time.Hour), float64(xs[len(xs)/2]), 0.05)
	require.InEpsilon(t, float64(48*time.Hour), float64(xs[len(xs)*9/10]), 0.05)
}

func TestParseOfficers(t *testing.T) {
	o, err := ParseOfficers("document-officer=5, release-officer=3", DefaultOfficers())
	require.NoError(t, err)
	require.Equal(t, 5, o[policy.RoleDocument])
	require.Equal(t, 3, o[policy.RoleRelease])
	require.Equal(t, 1, o[policy.RoleInspection], "not named: the default")
	for _, bad := range []string{"supervisor=2", "document-officer", "document-officer=0", "clerk=1"} {
		_, err := ParseOfficers(bad, DefaultOfficers())
		require.Error(t, err, bad)
	}
}

func TestMix(t *testing.T) {
	m, err := DefaultMix("../examples")
	require.NoError(t, err)
	require.Len(t, m, 11, "the thirteen examples less the two that do not validate")
	m, err = LoadMix(yellowExample + "=3," + missingExample)
	require.NoError(t, err)
	require.Equal(t, []float64{3, 1}, []float64{m[0].Weight, m[1].Weight})
	_, err = LoadMix("../examples/invalid-five-digit-hs-code.json")
	require.Error(t, err)
}

func TestConfigValidate(t *testing.T) {
	cfg := Config{N: 1, Arrivals: Fixed(time.Hour), Mix: mix(t, yellowExample), Officers: staff(t, ""),
		OfficerTime: Fixed(time.Hour), ExporterTime: Fixed(time.Hour)}
	require.NoError(t, cfg.Validate())
	cfg.Officers = map[policy.Role]int{policy.RoleDocument: 1}
	require.ErrorContains(t, cfg.Validate(), "release-officer needs at least one officer")
}

// BenchmarkSimulate runs the default mix under a moderate load and reports clearances per
// second of wall time.
func BenchmarkSimulate(b *testing.B) {
	m, err := DefaultMix("../examples")
	require.NoError(b, err)
	cfg := Config{N: 500, Seed: 1, Arrivals: Exponential{Avg: time.Hour}, Mix: m, ExpeditedShare: -1,
		Officers: DefaultOfficers(), OfficerTime: LogNormal{Median: 90 * time.Minute, P90: 5 * time.Hour},
		ExporterTime: LogNormal{Median: 24 * time.Hour, P90: 96 * time.Hour}, RequestShare: 0.5}
	start := time.Now()
	for i := 0; i < b.N; i++ {
		cfg.Seed = uint64(i + 1)
		run(b, cfg)
	}
	b.ReportMetric(float64(b.N*cfg.N)/time.Since(start).Seconds(), "clearances/s")
}

// Under the first-come queue the expedited procedure changes the allowances and so the
// escalations, and nothing else: the same clearances take the same time.
func TestExpeditedChangesNothingButAllowancesInArrivalOrder(t *testing.T) {
	m, err := DefaultMix("../examples")
	require.NoError(t, err)
	cfg := Config{N: 150, Seed: 9, Arrivals: Exponential{Avg: time.Hour}, Mix: m, ExpeditedShare: 0,
		Officers: DefaultOfficers(), OfficerTime: LogNormal{Median: 2 * time.Hour, P90: 12 * time.Hour},
		ExporterTime: Exponential{Avg: 24 * time.Hour}, RequestShare: 0.5}
	standard := run(t, cfg)
	cfg.ExpeditedShare = 1
	expedited := run(t, cfg)
	var escalated [2]int
	for i := range standard.Results {
		s, e := standard.Results[i], expedited.Results[i]
		require.False(t, s.Expedited)
		require.True(t, e.Expedited)
		require.Equal(t, s.Elapsed, e.Elapsed, s.DeclarationID)
		escalated[0] += len(s.Escalations)
		escalated[1] += len(e.Escalations)
	}
	t.Logf("escalations: standard %d, expedited %d", escalated[0], escalated[1])
	require.Greater(t, escalated[1], escalated[0])
}
