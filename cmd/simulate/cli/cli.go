// Package cli is the command line of simulate: the staffing simulator, which runs synthetic
// declarations through the real clearance workflow in a time-skipping test environment and prints
// how often clearances beat the 20-day standard. The simulate binary is a thin wrapper over Run.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/medsupply/customs/internal/command"

	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/sim"
	"github.com/medsupply/customs/trs"
)

// Run runs the command line and returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 1000, "declarations to simulate")
	seed := fs.Uint64("seed", 1, "random seed; the same seed gives the same run")
	arrivals := fs.String("arrivals", "1h", "time between arrivals: a duration is the mean of an exponential distribution (Poisson arrivals); or a distribution as for --officer-time")
	mix := fs.String("mix", "", `declaration files with weights, "examples/a.json=3,examples/b.json" (weight 1 when omitted); default: every valid file in --examples`)
	examples := fs.String("examples", "examples", "directory of the default mix")
	expedited := fs.String("expedited-share", "0.1", `share (0-1) of declarations lodged with an expedited request, drawn across the whole mix; "lodged": as each example was lodged`)
	officers := fs.String("officers", "", `officers per role, "document-officer=3,health-quarantine-officer=2,certification-officer=2,inspection-officer=1,release-officer=2" (the default); roles not named keep their default`)
	officerTime := fs.String("officer-time", "lognormal:median=90m,p90=5h", "time an officer takes over one decision: fixed:D, exponential:mean=D, lognormal:median=D,p90=D or uniform:min=D,max=D")
	exporterTime := fs.String("exporter-time", "lognormal:median=1d,p90=4d", "time an exporter takes to answer a request for information (same forms)")
	requestShare := fs.Float64("request-share", 0.5, "probability (0-1) that an officer requests information rather than approves when the checks found errors")
	queue := fs.String("queue", string(sim.QueueFIFO), "order of the officer queues: fifo, or due (earliest end of the stage allowance first)")
	agencies := fs.String("agencies", "NMPA,SAMR", `partner agencies on the single window whose permits the lines need (NMPA: devices and test kits; SAMR: masks and respirators), with their default review times; "none" for none`)
	var agencyTimes settings
	fs.Var(&agencyTimes, "agency-time", `an agency's review time, "NMPA:checks=lognormal:median=1h,p90=6h;officer-share=0.2;officer=lognormal:median=2d,p90=7d" (settings not named keep their default); repeat for each agency`)
	policyFile := fs.String("policy", "", "policy file (allowances, calendar); default: the built-in policy")
	dir := fs.String("dir", "", "directory for the release register; default: a temporary directory, removed afterwards")
	csvFile := fs.String("csv", "", "write the Time Release Study as CSV to this file")
	jsonFile := fs.String("json", "", "write the Time Release Study as JSON to this file")
	htmlFile := fs.String("html", "", "write the Time Release Study as an HTML page with charts to this file")
	quiet := fs.Bool("quiet", false, "print only the headline, not the Time Release Study tables")
	command.Help(fs, stdout, "usage: simulate [flags]\n\nThe staffing simulator: synthetic declarations through the real clearance workflow in a\ntime-skipping test environment, with sampled officer and exporter times, and the Time Release\nStudy of the run.\n\nflags:\n")
	if code, ok := command.NoOperands("simulate", fs, args, stderr); !ok {
		return code
	}
	cfg, err := config(*n, *seed, *arrivals, *mix, *examples, *expedited, *officers, *officerTime, *exporterTime, *requestShare, *queue, *policyFile, *dir)
	if err == nil {
		err = withAgencies(&cfg, *agencies, agencyTimes)
	}
	if err != nil {
		fmt.Fprintf(stderr, "simulate: %v\n", err)
		return command.Usage
	}
	bar := command.NewProgress(stderr, "simulate", cfg.N)
	cfg.Progress = func(done, _ int) { bar.Set(done, 0) }
	out, err := sim.Run(ctx, cfg)
	bar.Finish()
	if err != nil {
		fmt.Fprintf(stderr, "simulate: %v\n", err)
		return command.Failure
	}
	if err := sim.WriteHeadline(stdout, out); err != nil {
		fmt.Fprintf(stderr, "simulate: %v\n", err)
		return command.Failure
	}
	fmt.Fprintf(stdout, "Memory: %s\n", memory())
	if !*quiet {
		fmt.Fprintln(stdout)
		if err := trs.WriteTable(stdout, out.Report); err != nil {
			fmt.Fprintf(stderr, "simulate: %v\n", err)
			return command.Failure
		}
	}
	for _, f := range []struct {
		path  string
		write func(io.Writer, trs.Report) error
	}{{*csvFile, trs.WriteCSV}, {*jsonFile, trs.WriteJSON}, {*htmlFile, trs.WriteHTML}} {
		if f.path == "" {
			continue
		}
		if err := writeFile(f.path, out.Report, f.write); err != nil {
			fmt.Fprintf(stderr, "simulate: %v\n", err)
			return command.Failure
		}
	}
	return command.OK
}

func config(n int, seed uint64, arrivals, mix, examples, expedited, officers, officerTime, exporterTime string,
	requestShare float64, queue, policyFile, dir string) (sim.Config, error) {
	cfg := sim.Config{N: n, Seed: seed, RequestShare: requestShare, Queue: sim.Discipline(queue), Dir: dir, ExpeditedShare: -1}
	var err error
	if cfg.Arrivals, err = sim.ParseArrivals(arrivals); err != nil {
		return cfg, err
	}
	if strings.TrimSpace(mix) == "" {
		cfg.Mix, err = sim.DefaultMix(examples)
	} else {
		cfg.Mix, err = sim.LoadMix(mix)
	}
	if err != nil {
		return cfg, err
	}
	if expedited != "lodged" {
		share, err := strconv.ParseFloat(strings.TrimSpace(expedited), 64)
		if err != nil || share < 0 || share > 1 || math.IsNaN(share) {
			return cfg, fmt.Errorf("--expedited-share: %q is not a share from 0 to 1", expedited)
		}
		cfg.ExpeditedShare = share
	}
	if cfg.Officers, err = sim.ParseOfficers(officers, sim.DefaultOfficers()); err != nil {
		return cfg, err
	}
	if cfg.OfficerTime, err = sim.ParseDistribution(officerTime); err != nil {
		return cfg, fmt.Errorf("--officer-time: %w", err)
	}
	if cfg.ExporterTime, err = sim.ParseDistribution(exporterTime); err != nil {
		return cfg, fmt.Errorf("--exporter-time: %w", err)
	}
	if cfg.Policy, err = policy.LoadPolicy(policyFile); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// withAgencies puts the agencies named on the single window, with their review times.
func withAgencies(cfg *sim.Config, names string, times []string) error {
	var err error
	if cfg.Agencies, err = sim.ParseAgencies(names, times); err != nil {
		return fmt.Errorf("--agencies: %w", err)
	}
	return cfg.Validate()
}

// settings is a flag that may be given more than once.
type settings []string

func (s *settings) String() string { return strings.Join(*s, " ") }

func (s *settings) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// memory describes the process's memory use: its peak resident set where the system reports
// it, and the Go heap.
func memory() string {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap := fmt.Sprintf("Go heap in use %d MB, obtained from the system %d MB, %d MB allocated in all",
		ms.HeapInuse>>20, ms.Sys>>20, ms.TotalAlloc>>20)
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return heap
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return "peak resident " + strings.TrimSpace(v) + "; " + heap
		}
	}
	return heap
}

func writeFile(path string, r trs.Report, write func(io.Writer, trs.Report) error) error {
	f, err := os.Create(filepath.Clean(path))
	if err != nil {
		return err
	}
	if err := write(f, r); err != nil {
		return errors.Join(fmt.Errorf("write %s: %w", path, err), f.Close())
	}
	return f.Close()
}
