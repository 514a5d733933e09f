package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
)

// Config describes one simulation: what arrives, how fast, who works on it and how long they
// take.
type Config struct {
	// N is the number of declarations to simulate.
	N int
	// Seed makes a run reproducible: the same seed gives the same arrivals, mix, service times
	// and decisions.
	Seed uint64
	// Start is the simulated instant of the first arrival; zero means DefaultStart.
	Start time.Time
	// Arrivals is the distribution of the time between two arrivals (Exponential for a
	// Poisson stream). The first declaration arrives at Start.
	Arrivals Distribution
	// Mix is what arrives: declarations drawn by weight.
	Mix []MixEntry
	// ExpeditedShare is the share (0-1) of declarations lodged with a request for the expedited
	// procedure; a negative share keeps each example's own request (or its absence).
	ExpeditedShare float64
	// Officers is the number of officers per role; every officer role needs at least one.
	Officers map[policy.Role]int
	// OfficerTime is how long an officer takes over one decision, from picking the clearance
	// up to deciding; OfficerTimeByRole overrides it for some roles.
	OfficerTime       Distribution
	OfficerTimeByRole map[policy.Role]Distribution
	// ExporterTime is how long an exporter takes to answer a request for information.
	ExporterTime Distribution
	// RequestShare is the probability (0-1) that an officer requests information, rather than
	// approving, when the stage's automated checks found errors. An officer requests at most
	// once per stage of a clearance and approves the answer.
	RequestShare float64
	// Queue is the order in which officers take clearances from their queue: QueueFIFO (the
	// default) or QueueDue.
	Queue Discipline
	// Policy is the policy in force; zero means policy.Default().
	Policy policy.Policy
	// Dir holds the release register; empty means a temporary directory, removed afterwards.
	Dir string
	// Progress, when set, is called with the clearances finished so far and N, as each ends.
	Progress func(done, total int) `json:"-"`
}

// Discipline is the order of an officer queue.
type Discipline string

// Queue disciplines.
const (
	// QueueFIFO serves clearances in the order they started to wait.
	QueueFIFO Discipline = "fifo"
	// QueueDue serves first the clearance whose stage allowance ends first: expedited and
	// overdue clearances go ahead.
	QueueDue Discipline = "due"
)

// DefaultStart is the default first arrival: Monday 1 June 2020, midnight in Beijing, after the
// rules of April 2020 took effect and within every example certificate's validity.
var DefaultStart = time.Date(2020, 6, 1, 0, 0, 0, 0, time.FixedZone("UTC+08:00", 8*3600))

// OfficerRoles are the roles that decide stages, in stage order.
var OfficerRoles = []policy.Role{policy.RoleDocument, policy.RoleHealthQuarantine, policy.RoleCertification,
	policy.RoleInspection, policy.RoleRelease}

// DefaultOfficers is a staffing of ten officers.
func DefaultOfficers() map[policy.Role]int {
	return map[policy.Role]int{policy.RoleDocument: 3, policy.RoleHealthQuarantine: 2, policy.RoleCertification: 2,
		policy.RoleInspection: 1, policy.RoleRelease: 2}
}

// Validate reports every problem in the configuration at once.
func (c Config) Validate() error {
	var errs []string
	if c.N <= 0 {
		errs = append(errs, fmt.Sprintf("n: %d must be positive", c.N))
	}
	if c.Arrivals == nil {
		errs = append(errs, "arrivals: missing")
	}
	if len(c.Mix) == 0 {
		errs = append(errs, "mix: no declarations")
	}
	total := 0.0
	for _, m := range c.Mix {
		if m.Weight < 0 || math.IsNaN(m.Weight) || math.IsInf(m.Weight, 0) {
			errs = append(errs, fmt.Sprintf("mix: %s: weight %v must be a non-negative number", m.Name, m.Weight))
		}
		total += m.Weight
	}
	if len(c.Mix) > 0 && !(total > 0) {
		errs = append(errs, "mix: the weights add up to zero")
	}
	if c.ExpeditedShare > 1 || math.IsNaN(c.ExpeditedShare) {
		errs = append(errs, fmt.Sprintf("expedited share: %v is not between 0 and 1", c.ExpeditedShare))
	}
	if c.Queue != "" && c.Queue != QueueFIFO && c.Queue != QueueDue {
		errs = append(errs, fmt.Sprintf("queue: %q is not %s or %s", c.Queue, QueueFIFO, QueueDue))
	}
	if c.RequestShare < 0 || c.RequestShare > 1 || math.IsNaN(c.RequestShare) {
		errs = append(errs, fmt.Sprintf("request share: %v is not between 0 and 1", c.RequestShare))
	}
	for _, r := range OfficerRoles {
		if c.Officers[r] <= 0 {
			errs = append(errs, fmt.Sprintf("officers: %s needs at least one officer", r))
		}
		if c.officerTime(r) == nil {
			errs = append(errs, fmt.Sprintf("officer time: missing for %s", r))
		}
	}
	for r := range c.Officers {
		if !slices.Contains(OfficerRoles, r) {
			errs = append(errs, fmt.Sprintf("officers: %q is not an officer role", r))
		}
	}
	if c.ExporterTime == nil {
		errs = append(errs, "exporter time: missing")
	}
	if c.Policy.Standard != 0 {
		if err := c.Policy.Validate(); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("simulation: %s", strings.Join(errs, "; "))
	}
	return nil
}

func (c Config) officerTime(r policy.Role) Distribution {
	if d, ok := c.OfficerTimeByRole[r]; ok && d != nil {
		return d
	}
	return c.OfficerTime
}

// MixEntry is one kind of declaration in the mix.
type MixEntry struct {
	// Name names the entry in reports: the file it came from.
	Name        string
	Declaration declaration.Declaration
	Weight      float64
}

// LoadMix reads a mix: comma-separated declaration files, each with an optional weight
// ("examples/a.json=3,examples/b.json"; the weight defaults to 1). A file whose declaration does
// not validate is an error: no clearance would start for it.
func LoadMix(spec string) ([]MixEntry, error) {
	var out []MixEntry
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		path, w, hasWeight := strings.Cut(part, "=")
		weight := 1.0
		if hasWeight {
			v, err := strconv.ParseFloat(strings.TrimSpace(w), 64)
			if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
				return nil, fmt.Errorf("mix: %q: weight %q is not a non-negative number", part, w)
			}
			weight = v
		}
		d, err := readDeclaration(strings.TrimSpace(path))
		if err != nil {
			return nil, fmt.Errorf("mix: %w", err)
		}
		out = append(out, MixEntry{Name: filepath.Base(path), Declaration: d, Weight: weight})
	}
	if len(out) == 0 {
		return nil, errors.New("mix: no declaration files")
	}
	return out, nil
}

// DefaultMix returns every declaration file in dir that validates, each with weight 1, in name
// order.
func DefaultMix(dir string) ([]MixEntry, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("mix: %w", err)
	}
	sort.Strings(paths)
	var out []MixEntry
	for _, p := range paths {
		d, err := readDeclaration(p)
		if err != nil {
			continue // the invalid examples: no clearance starts for them
		}
		out = append(out, MixEntry{Name: filepath.Base(p), Declaration: d, Weight: 1})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("mix: no valid declaration in %s", dir)
	}
	return out, nil
}

func readDeclaration(path string) (declaration.Declaration, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return declaration.Declaration{}, err
	}
	d, err := declaration.ParseAndValidate(b)
	if err != nil {
		return declaration.Declaration{}, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// ParseOfficers reads officer counts per role ("document-officer=3,release-officer=2") on top
// of base: roles not named keep their count in base.
func ParseOfficers(spec string, base map[policy.Role]int) (map[policy.Role]int, error) {
	out := map[policy.Role]int{}
	for r, n := range base {
		out[r] = n
	}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		role, count, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("officers: %q is not role=count", part)
		}
		r := policy.Role(strings.TrimSpace(role))
		if !slices.Contains(OfficerRoles, r) {
			return nil, fmt.Errorf("officers: %q is not one of %s", role, joinRoles(OfficerRoles))
		}
		n, err := strconv.Atoi(strings.TrimSpace(count))
		if err != nil || n < 1 || n > 1000 {
			return nil, fmt.Errorf("officers: %s: %q is not a count from 1 to 1000", r, count)
		}
		out[r] = n
	}
	return out, nil
}

func joinRoles(rs []policy.Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// Distribution is a distribution of durations.
type Distribution interface {
	// Sample draws a duration, never negative.
	Sample(r *rand.Rand) time.Duration
	// Mean is the distribution's expected value.
	Mean() time.Duration
	String() string
}

// maxSample caps every drawn duration: a lognormal tail must not overflow time.Duration.
const maxSample = 10 * 365 * 24 * time.Hour

func clip(f float64) time.Duration {
	switch {
	case !(f > 0):
		return 0
	case f >= float64(maxSample):
		return maxSample
	}
	return time.Duration(f)
}

// Fixed always takes the same time.
type Fixed time.Duration

// Sample implements Distribution.
func (f Fixed) Sample(*rand.Rand) time.Duration { return time.Duration(f) }

// Mean implements Distribution.
func (f Fixed) Mean() time.Duration { return time.Duration(f) }

func (f Fixed) String() string { return "fixed:" + short(time.Duration(f)) }

// Exponential is memoryless: the time between arrivals of a Poisson stream.
type Exponential struct{ Avg time.Duration }

// Sample implements Distribution.
func (e Exponential) Sample(r *rand.Rand) time.Duration { return clip(r.ExpFloat64() * float64(e.Avg)) }

// Mean implements Distribution.
func (e Exponential) Mean() time.Duration { return e.Avg }

func (e Exponential) String() string { return "exponential:mean=" + short(e.Avg) }

// z90 is the 90th percentile of the standard normal distribution.
const z90 = 1.2815515655446004

// LogNormal is skewed to the right, as human work times are: most decisions are quick, a few take
// very long. It is given by its median and 90th percentile.
type LogNormal struct{ Median, P90 time.Duration }

func (l LogNormal) sigma() float64 { return math.Log(float64(l.P90)/float64(l.Median)) / z90 }

// Sample implements Distribution.
func (l LogNormal) Sample(r *rand.Rand) time.Duration {
	return clip(float64(l.Median) * math.Exp(l.sigma()*r.NormFloat64()))
}

// Mean implements Distribution.
func (l LogNormal) Mean() time.Duration {
	s := l.sigma()
	return clip(float64(l.Median) * math.Exp(s*s/2))
}

func (l LogNormal) String() string {
	return "lognormal:median=" + short(l.Median) + ",p90=" + short(l.P90)
}

// Uniform takes any time between Min and Max with equal chance.
type Uniform struct{ Min, Max time.Duration }

// Sample implements Distribution.
func (u Uniform) Sample(r *rand.Rand) time.Duration {
	return u.Min + time.Duration(r.Float64()*float64(u.Max-u.Min))
}

// Mean implements Distribution.
func (u Uniform) Mean() time.Duration { return u.Min + (u.Max-u.Min)/2 }

func (u Uniform) String() string {
	return "uniform:min=" + short(u.Min) + ",max=" + short(u.Max)
}

// short writes a duration as ParseDistribution reads it: "2d", "90m", "1h30m".
func short(d time.Duration) string {
	if d != 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// ParseDistribution reads a distribution of durations:
//
//	fixed:10h
//	exponential:mean=4h
//	lognormal:median=4h,p90=2d
//	uniform:min=1h,max=3h
//
// Durations take Go's units and "d" for days.
func ParseDistribution(s string) (Distribution, error) {
	kind, params, _ := strings.Cut(strings.TrimSpace(s), ":")
	kind = strings.ToLower(strings.TrimSpace(kind))
	if kind == "fixed" {
		v, err := positive(strings.TrimPrefix(strings.TrimSpace(params), "value="), true)
		if err != nil {
			return nil, fmt.Errorf("distribution %q: %w", s, err)
		}
		return Fixed(v), nil
	}
	kv := map[string]time.Duration{}
	for _, p := range strings.Split(params, ",") {
		if strings.TrimSpace(p) == "" {
			continue
		}
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return nil, fmt.Errorf("distribution %q: %q is not name=duration", s, p)
		}
		d, err := positive(v, false)
		if err != nil {
			return nil, fmt.Errorf("distribution %q: %s: %w", s, strings.TrimSpace(k), err)
		}
		kv[strings.ToLower(strings.TrimSpace(k))] = d
	}
	need := func(names ...string) error {
		for _, n := range names {
			if _, ok := kv[n]; !ok {
				return fmt.Errorf("distribution %q: %s needs %s", s, kind, strings.Join(names, " and "))
			}
		}
		if len(kv) != len(names) {
			return fmt.Errorf("distribution %q: %s takes only %s", s, kind, strings.Join(names, " and "))
		}
		return nil
	}
	switch kind {
	case "exponential", "exp":
		if err := need("mean"); err != nil {
			return nil, err
		}
		return Exponential{Avg: kv["mean"]}, nil
	case "lognormal":
		if err := need("median", "p90"); err != nil {
			return nil, err
		}
		if kv["p90"] < kv["median"] {
			return nil, fmt.Errorf("distribution %q: p90 must not be below the median", s)
		}
		return LogNormal{Median: kv["median"], P90: kv["p90"]}, nil
	case "uniform":
		if err := need("min", "max"); err != nil {
			return nil, err
		}
		if kv["max"] < kv["min"] {
			return nil, fmt.Errorf("distribution %q: max must not be below min", s)
		}
		return Uniform{Min: kv["min"], Max: kv["max"]}, nil
	}
	return nil, fmt.Errorf("distribution %q: not fixed:D, exponential:mean=D, lognormal:median=D,p90=D or uniform:min=D,max=D", s)
}

// ParseArrivals reads the time between arrivals: a plain duration ("30m") is the mean of an
// exponential distribution (a Poisson stream); anything else is read by ParseDistribution.
func ParseArrivals(s string) (Distribution, error) {
	if !strings.Contains(s, ":") {
		d, err := positive(s, false)
		if err != nil {
			return nil, fmt.Errorf("arrivals %q: %w", s, err)
		}
		return Exponential{Avg: d}, nil
	}
	return ParseDistribution(s)
}

func positive(s string, zeroOK bool) (time.Duration, error) {
	d, err := policy.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	if d < 0 || (d == 0 && !zeroOK) {
		return 0, fmt.Errorf("%q must be positive", s)
	}
	return d, nil
}
