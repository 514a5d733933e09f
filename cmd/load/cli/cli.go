// Package cli is the command line of load: it measures throughput and latency of clearances
// against any server beside the bare baseline, and prints both and their ratio. The load binary is
// a thin wrapper over Run.
package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/medsupply/customs/internal/command"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/engine"
	"github.com/medsupply/customs/loadgen"
	"github.com/medsupply/customs/logging"
	"github.com/medsupply/customs/policy"
)

// Run runs the command line and returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var conn connect.Options
	conn.RegisterFlags(fs)
	var ecfg engine.Config
	ecfg.RegisterFlags(fs)
	n := fs.Int("n", 300, "workflows to run, for the clearances and for the baseline each")
	concurrency := fs.Int("concurrency", 200, "workflows in flight at once")
	rate := fs.Float64("rate", 0, "starts per second (0: as fast as --concurrency allows)")
	examples := fs.String("examples", "examples/us-nasal-cannulas-anaesthesia-masks.json,examples/it-ffp2-respirators.json,examples/nl-examination-gloves-self-declared.json",
		"comma-separated declaration files to copy under generated IDs")
	officerDelay := fs.Duration("officer-delay", time.Second, "how long the automatic officer takes to approve a stage")
	baseline := fs.Bool("baseline", true, "also run the bare baseline on the same server")
	rounds := fs.Int("rounds", 2, "with the baseline: rounds of -n baseline workflows and -n clearances, alternating which goes first (baseline, clearances, clearances, baseline, ...)")
	inProcess := fs.Bool("worker", true, "run the clearance and baseline workers in this process (false: use running workers)")
	workerPID := fs.Int("worker-pid", 0, "with --worker=false, the worker process whose peak memory to report")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	hold := fs.Bool("hold", false, "submit -n clearances that wait on officers, decide none, and report how long until all wait and the memory it takes (use yellow-lane --examples)")
	scale := fs.String("scale", "", "comma-separated numbers of open clearances (ascending, for example 1000,10000,100000): hold ever more clearances on officers and measure at each the queue page, a decision, a cache miss's replay, the Time Release Study, memory and disk (use yellow-lane --examples)")
	samples := fs.Int("samples", 50, "with --scale: queue pages, decisions and replays measured at each size")
	serverPID := fs.Int("server-pid", 0, "the server process whose memory (with --scale) or processor time per workflow (otherwise) to report")
	dbFile := fs.String("db-file", "", "with --scale: the server's SQLite file whose size to report")
	officer := fs.String("officer", "doc-li", "with --scale: the document officer who decides the sampled clearances")
	studyAt := fs.String("study-at", "", "comma-separated numbers of clearances (ascending, for example 1000,10000,100000): clear each --examples once, start copies of them (declaration, search attributes, study memo) that no worker runs, and time the Time Release Study's read at each number")
	reads := fs.Int("reads", 3, "with --study-at: reads timed at each number (the median is reported)")
	studyPlain := fs.Bool("study-plain", false, "with --study-at: also time the plain reader at each number (one listing of pages, the study's reader before ranges), taking turns with the default one")
	backlog := fs.String("backlog", "", "lodge -n clearances behind a stopped worker, then --behind more after them, start the worker and time each one's lodgement to release, beside --behind lodged on the idle server: \"expedited\" lodges expedited copies of --examples behind them (priority), \"exporter\" lodges the other exporters' --examples behind the first one's (fairness); use green-lane --examples")
	behind := fs.Int("behind", 20, "with --backlog: declarations lodged behind the backlog, and on the idle server")
	cpuProfile := fs.String("cpu-profile", "", "write this process's processor profile (its workers and clients) to this file, for go tool pprof")
	singleWindow := fs.String("single-window", "", "agencies whose permits the clearances ask through the single window by their standard rules, comma-separated (NMPA,SAMR): the clearance worker in this process asks them, and each agency's worker runs in this process too, in the agency's namespace (agency-<agency>), which the server must have set up (the embedded default does)")
	command.Help(fs, stdout, "usage: load [flags]\n\nMeasures throughput and latency against any server: generated declarations at a concurrency or\nrate, an automatic officer, and the bare baseline beside them on the same server.\n\nflags:\n")
	if code, ok := command.NoOperands("load", fs, args, stderr); !ok {
		return code
	}
	if *n <= 0 || *concurrency <= 0 || *rate < 0 || *rounds <= 0 {
		fmt.Fprintln(stderr, "load: -n, --concurrency and --rounds must be positive, --rate not negative")
		return command.Usage
	}
	switch {
	case *backlog != "" && *backlog != loadgen.BacklogExpedited && *backlog != loadgen.BacklogExporter:
		fmt.Fprintf(stderr, "load: --backlog %q: want %s or %s\n", *backlog, loadgen.BacklogExpedited, loadgen.BacklogExporter)
		return command.Usage
	case *backlog != "" && !*inProcess:
		fmt.Fprintln(stderr, "load: --backlog stops and starts the clearance worker: it runs it in this process (--worker)")
		return command.Usage
	case *backlog != "" && *behind <= 0:
		fmt.Fprintf(stderr, "load: --behind %d: must be positive\n", *behind)
		return command.Usage
	case *singleWindow != "" && !*inProcess:
		fmt.Fprintln(stderr, "load: --single-window runs the clearance worker and the agencies' workers in this process (--worker)")
		return command.Usage
	case *singleWindow != "" && ecfg.PolicyFile != "":
		fmt.Fprintln(stderr, "load: --single-window is for the built-in policy: a --policy file names its agencies in its singleWindow")
		return command.Usage
	}
	if *singleWindow != "" {
		agencies, err := parseSingleWindow(*singleWindow)
		if err != nil {
			fmt.Fprintf(stderr, "load: --single-window %q: %v\n", *singleWindow, err)
			return command.Usage
		}
		ecfg.SingleWindow = agencies
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "load: --cpu-profile: %v\n", err)
			return command.Usage
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "load: --cpu-profile: %v\n", err)
			_ = f.Close()
			return command.Failure
		}
		defer func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				fmt.Fprintf(stderr, "load: --cpu-profile: %v\n", err)
			}
		}()
	}
	var templates []declaration.Declaration
	for _, f := range strings.Split(*examples, ",") {
		b, err := os.ReadFile(strings.TrimSpace(f))
		if err == nil {
			var d declaration.Declaration
			d, err = declaration.ParseAndValidate(b)
			templates = append(templates, d)
		}
		if err != nil {
			fmt.Fprintf(stderr, "load: --examples %s: %v\n", f, err)
			return command.Usage
		}
	}
	zl, err := logging.New("warn", false)
	if err != nil {
		fmt.Fprintf(stderr, "load: %v\n", err)
		return command.Failure
	}
	c, err := connect.Dial(ctx, conn, logging.NewSDKLogger(zl))
	if err != nil {
		fmt.Fprintf(stderr, "load: %v\n", err)
		return command.DialCode(err)
	}
	defer c.Close()

	// startWorker starts a clearance worker in this process (--backlog stops and starts it).
	var startWorker func() (func(), error)
	if *inProcess {
		if ecfg.DataDir == "data" {
			dir, err := os.MkdirTemp("", "load-")
			if err != nil {
				fmt.Fprintf(stderr, "load: %v\n", err)
				return command.Failure
			}
			defer func() {
				if err := os.RemoveAll(dir); err != nil {
					fmt.Fprintf(stderr, "load: remove %s: %v\n", dir, err)
				}
			}()
			ecfg.DataDir = dir
			ecfg.Notifications = filepath.Join(dir, "notifications.jsonl")
		}
		e, err := engine.Open(ecfg, zl)
		if err != nil {
			fmt.Fprintf(stderr, "load: %v\n", err)
			return command.Failure
		}
		defer func() {
			if err := e.Close(); err != nil {
				fmt.Fprintf(stderr, "load: close engine: %v\n", err)
			}
		}()
		if len(ecfg.SingleWindow) > 0 {
			stop, err := startAgencies(ctx, conn, ecfg, zl)
			if err != nil {
				fmt.Fprintf(stderr, "load: --single-window: %v\n", err)
				return command.Failure
			}
			defer stop()
		}
		startWorker = func() (func(), error) {
			w := e.NewWorker(c, ecfg)
			if err := w.Start(); err != nil {
				return nil, err
			}
			return w.Stop, nil
		}
		if *backlog == "" {
			w := e.NewWorker(c, ecfg)
			bw := worker.New(c, loadgen.BaselineTaskQueue, ecfg.SDKWorkerOptions())
			loadgen.RegisterBaseline(bw)
			for _, x := range []worker.Worker{w, bw} {
				if err := x.Start(); err != nil {
					fmt.Fprintf(stderr, "load: %v\n", err)
					return command.Failure
				}
				defer x.Stop()
			}
		}
	}

	prefix := fmt.Sprintf("load-%d", time.Now().Unix())
	if *backlog != "" {
		return runBacklog(ctx, c, loadgen.BacklogOptions{
			Options: loadgen.Options{N: *n, Concurrency: *concurrency, Rate: *rate, Templates: templates, Prefix: prefix},
			Mode:    *backlog, Behind: *behind, Namespace: conn.Namespace, StartWorker: startWorker,
			Log: func(format string, args ...any) {
				fmt.Fprintf(stderr, "load: %s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
			},
		}, *asJSON, stdout, stderr)
	}
	if *studyAt != "" {
		sizes, err := parseSizes(*studyAt)
		if err != nil || *reads <= 0 {
			fmt.Fprintf(stderr, "load: --study-at %q, --reads %d: want positive numbers in ascending order\n", *studyAt, *reads)
			return command.Usage
		}
		head := "clearances\tpopulate\tread median (fastest-slowest)\tclearances/s\tserver calls"
		if *studyPlain {
			head += "\tplain read median (fastest-slowest)\tplain clearances/s\tplain calls\tplain/read"
		}
		fmt.Fprintln(stdout, head)
		times := func(r loadgen.StudyReads) string {
			return fmt.Sprintf("%s (%s-%s)\t%.0f\t%d", r.Read.Round(time.Millisecond), r.Fastest.Round(time.Millisecond), r.Slowest.Round(time.Millisecond), r.PerSecond, r.Reading.Calls())
		}
		err = loadgen.RunStudyVolume(ctx, c, conn.Namespace, loadgen.Options{Concurrency: *concurrency, Rate: *rate, Templates: templates, Prefix: prefix}, sizes, *reads, *studyPlain,
			func(p loadgen.StudyPoint) {
				line := fmt.Sprintf("%d\t%s\t%s", p.Clearances, p.Populate.Round(time.Second), times(p.StudyReads))
				if p.Plain != nil {
					line += fmt.Sprintf("\t%s\t%.2f", times(*p.Plain), p.Plain.Read.Seconds()/p.Read.Seconds())
				}
				fmt.Fprintln(stdout, line)
			})
		if err != nil {
			fmt.Fprintf(stderr, "load: %v\n", err)
			return command.Failure
		}
		return command.OK
	}
	if *scale != "" {
		return runScale(ctx, c, conn.Namespace, *scale, loadgen.ScaleOptions{
			Options: loadgen.Options{Concurrency: *concurrency, Rate: *rate, Templates: templates, Prefix: prefix},
			Samples: *samples, ServerPID: *serverPID, DBFile: *dbFile, Officer: *officer,
		}, *asJSON, ecfg.StickyCacheSize, stdout, stderr)
	}
	if *hold {
		bar := command.NewProgress(stderr, "waiting on officers", *n)
		h, err := loadgen.RunHold(ctx, c, conn.Namespace, loadgen.Options{N: *n, Concurrency: *concurrency, Rate: *rate, Templates: templates, Prefix: prefix,
			Progress: func(waiting, total int) { bar.Set(waiting, total) }})
		bar.Finish()
		if err != nil {
			fmt.Fprintf(stderr, "load: %v\n", err)
			return command.Failure
		}
		if *asJSON {
			return printJSON(stdout, stderr, h)
		}
		fmt.Fprintf(stdout, "held %d clearances waiting on officers (%d errors) after %s\n", h.Waiting, h.Errors, h.Wall.Round(time.Second))
		fmt.Fprintf(stdout, "Go heap in use: %.1f MiB before, %.1f MiB after (%.1f KiB per clearance); peak RSS of this process %.1f MiB\n",
			float64(h.HeapBefore)/(1<<20), float64(h.HeapAfter)/(1<<20), float64(h.HeapAfter-min(h.HeapAfter, h.HeapBefore))/1024/float64(max(1, h.Waiting)), float64(h.PeakRSS)/(1<<20))
		if h.Errors > 0 {
			return command.Failure
		}
		return command.OK
	}
	bar := command.NewProgress(stderr, "workflows", 0)
	defer bar.Finish()
	opts := loadgen.Options{N: *n, Concurrency: *concurrency, Rate: *rate, Templates: templates, Prefix: prefix, OfficerDelay: *officerDelay,
		Progress: func(done, total int) { bar.Set(done, total) }, ServerPID: *serverPID}
	var results []loadgen.Result
	if *baseline {
		b, r, err := loadgen.SideBySide(ctx, c, opts, *rounds)
		if err != nil {
			fmt.Fprintf(stderr, "load: %v\n", err)
			return command.Failure
		}
		results = append(results, b, r)
	} else {
		r, err := loadgen.Measured(*serverPID, func() (loadgen.Result, error) { return loadgen.RunClearances(ctx, c, opts) })
		if err != nil {
			fmt.Fprintf(stderr, "load: %v\n", err)
			return command.Failure
		}
		results = append(results, r)
	}
	peak := loadgen.PeakRSS(*workerPID)
	if *asJSON {
		if code := printJSON(stdout, stderr, map[string]any{"results": results, "peakRSSBytes": peak, "workerInProcess": *inProcess}); code != 0 {
			return code
		}
	} else {
		report(stdout, results, peak, *inProcess)
	}
	for _, r := range results {
		if r.Errors > 0 {
			return command.Failure
		}
	}
	return command.OK
}

func report(w io.Writer, results []loadgen.Result, peak uint64, inProcess bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\tn\tcompleted\terrors\twall\twf/s\tp50\tp95\tp99\tmax\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%.1f\t%s\t%s\t%s\t%s\t\n", r.Kind, r.N, r.Completed, r.Errors, r.Wall.Round(time.Millisecond),
			r.PerSecond, r.EndToEnd.P50.Round(time.Millisecond), r.EndToEnd.P95.Round(time.Millisecond), r.EndToEnd.P99.Round(time.Millisecond), r.EndToEnd.Max.Round(time.Millisecond))
	}
	tw.Flush()
	last := results[len(results)-1]
	if len(last.Stages) > 0 {
		fmt.Fprintln(w, "\nclearance stages (as recorded)")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "stage\tp50\tp95\tp99\tmax\t")
		for _, s := range policy.Stages {
			if l, ok := last.Stages[s]; ok {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", s, l.P50.Round(time.Millisecond), l.P95.Round(time.Millisecond), l.P99.Round(time.Millisecond), l.Max.Round(time.Millisecond))
			}
		}
		tw.Flush()
	}
	if len(results) == 2 && results[0].PerSecond > 0 {
		fmt.Fprintf(w, "\nclearances / baseline throughput: %.2f\n", results[1].PerSecond/results[0].PerSecond)
	}
	if len(last.Permits) > 0 || last.AgencyRoundTrip.Max > 0 {
		var granted []string
		for _, a := range slices.Sorted(maps.Keys(last.Permits)) {
			granted = append(granted, fmt.Sprintf("%s %d", a, last.Permits[a]))
		}
		fmt.Fprintf(w, "permits granted through the single window, clearances by agency: %s of %d; agency round trip (asked to answered) p50 %s, p95 %s, p99 %s, max %s\n",
			cmp.Or(strings.Join(granted, ", "), "none"), last.Completed, last.AgencyRoundTrip.P50.Round(time.Millisecond), last.AgencyRoundTrip.P95.Round(time.Millisecond),
			last.AgencyRoundTrip.P99.Round(time.Millisecond), last.AgencyRoundTrip.Max.Round(time.Millisecond))
	}
	if last.Decisions > 0 {
		fmt.Fprintf(w, "officer approvals: %d; decide round trip p50 %s, p95 %s, p99 %s, max %s\n", last.Decisions,
			last.Decide.P50.Round(time.Millisecond), last.Decide.P95.Round(time.Millisecond), last.Decide.P99.Round(time.Millisecond), last.Decide.Max.Round(time.Millisecond))
	}
	who := "worker process"
	if inProcess {
		who = "this process (workers in process)"
	}
	for _, r := range results {
		if r.Completed == 0 || (r.ServerCPU == 0 && r.LoadCPU == 0) {
			continue
		}
		line := fmt.Sprintf("processor per %s: this process %s", r.Kind, cpuMS(r.PerWorkflow(r.LoadCPU)))
		if r.ServerCPU > 0 {
			line += ", server " + cpuMS(r.PerWorkflow(r.ServerCPU))
		}
		fmt.Fprintln(w, line)
	}
	if peak > 0 {
		fmt.Fprintf(w, "peak memory of %s: %.1f MiB\n", who, float64(peak)/(1<<20))
	}
	for _, r := range results {
		if r.FirstError != "" {
			fmt.Fprintf(w, "%s first error: %s\n", r.Kind, r.FirstError)
		}
	}
}

func cpuMS(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

// parseSizes reads comma-separated positive numbers in ascending order.
func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 || (len(out) > 0 && n <= out[len(out)-1]) {
			return nil, errors.New("want positive numbers in ascending order")
		}
		out = append(out, n)
	}
	return out, nil
}

// runBacklog runs loadgen.RunBacklog and prints what it measured.
func runBacklog(ctx context.Context, c client.Client, o loadgen.BacklogOptions, asJSON bool, stdout, stderr io.Writer) int {
	r, err := loadgen.RunBacklog(ctx, c, o)
	if err != nil {
		fmt.Fprintf(stderr, "load: --backlog: %v\n", err)
		return command.Failure
	}
	if asJSON {
		if code := printJSON(stdout, stderr, r); code != command.OK {
			return code
		}
	} else {
		reportBacklog(stdout, r)
	}
	if r.Errors > 0 {
		return command.Failure
	}
	return command.OK
}

func reportBacklog(w io.Writer, r loadgen.BacklogResult) {
	who := "expedited copies"
	if r.Mode == loadgen.BacklogExporter {
		who = "another exporter's declarations"
	}
	fmt.Fprintf(w, "backlog by %s: %d clearances lodged behind a stopped worker, then %d %s; lodgement to release\n", r.Mode, r.N, r.Behind, who)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "group\tp50\tp95\tp99\tmax\t")
	for _, g := range []struct {
		name string
		l    loadgen.Latencies
	}{{"lodged on the idle server", r.Idle}, {"lodged behind the backlog", r.BehindBacklog}, {"the backlog", r.Backlog}} {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", g.name, g.l.P50.Round(time.Millisecond), g.l.P95.Round(time.Millisecond),
			g.l.P99.Round(time.Millisecond), g.l.Max.Round(time.Millisecond))
	}
	tw.Flush()
	fmt.Fprintf(w, "backlog released at %.1f/s (its last %s after the worker started); behind the backlog / idle, p99: %.2f\n",
		r.PerSecond, r.Drain.Round(time.Millisecond), r.Ratio())
	if r.FirstError != "" {
		fmt.Fprintf(w, "%d errors; first: %s\n", r.Errors, r.FirstError)
	}
}

// runScale runs loadgen.RunScale, printing each size's figures as they come.
func runScale(ctx context.Context, c client.Client, namespace, sizes string, o loadgen.ScaleOptions, asJSON bool, cache int, stdout, stderr io.Writer) int {
	parsed, err := parseSizes(sizes)
	if err != nil {
		fmt.Fprintf(stderr, "load: --scale %q: %v\n", sizes, err)
		return command.Usage
	}
	o.Sizes = parsed
	if o.Samples <= 0 {
		fmt.Fprintln(stderr, "load: --samples must be positive")
		return command.Usage
	}
	if cache == 0 {
		cache = 10000 // the SDK's default
	}
	o.Log = func(format string, args ...any) {
		fmt.Fprintf(stderr, "load: %s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	mib := func(b uint64) string { return fmt.Sprintf("%.0f", float64(b)/(1<<20)) }
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond)) }
	if !asJSON {
		fmt.Fprintf(stdout, "sticky cache: %d executions; %d samples per size\n", cache, o.Samples)
		fmt.Fprintln(stdout, "open\telapsed\twait/s\tqueue p50/p95/p99 ms\tdecide p50/p95/p99 ms\treplay p50 ms (events)\tstudy s (calls)\tworker RSS/peak MiB\theap MiB\tserver RSS/peak MiB\tdb MiB")
	}
	enc := json.NewEncoder(stdout)
	err = loadgen.RunScale(ctx, c, namespace, o, func(p loadgen.ScalePoint) {
		if asJSON {
			_ = enc.Encode(p)
			return
		}
		fmt.Fprintf(stdout, "%d\t%s\t%.1f\t%s/%s/%s\t%s/%s/%s\t%s (%d)\t%.1f (%d)\t%s/%s\t%s\t%s/%s\t%.0f\n", p.Open, p.Elapsed.Round(time.Second), p.Rate,
			ms(p.Queue.P50), ms(p.Queue.P95), ms(p.Queue.P99), ms(p.Decide.P50), ms(p.Decide.P95), ms(p.Decide.P99),
			ms(p.Replay.P50), p.Events, p.Study.Seconds(), p.StudyRead.Calls(), mib(p.WorkerRSS), mib(p.WorkerPeak), mib(p.WorkerHeap),
			mib(p.ServerRSS), mib(p.ServerPeak), float64(p.DBBytes)/(1<<20))
	})
	if err != nil {
		fmt.Fprintf(stderr, "load: %v\n", err)
		return command.Failure
	}
	return command.OK
}

func printJSON(stdout, stderr io.Writer, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(stderr, "load: %v\n", err)
		return command.Failure
	}
	return command.OK
}
