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

	"github.com/medsupply/customs/agency"
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
	// Agencies are the partner agencies on the single window and how long each takes to answer
	// a permit request (DefaultAgencies); none: no permit is asked. Every agency the policy's
	// single window names needs one.
	Agencies []Agency
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
	errs = append(errs, c.validateAgencies()...)
	if c.Policy.Standard != 0 || len(c.Agencies) > 0 {
		p := c.Policy
		if p.Standard == 0 {
			p = policy.Default()
		}
		p.SingleWindow = c.singleWindow()
		if err := p.Validate(); err != nil {
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

// Agency is a partner agency on the single window, as the simulation has it answer customs'
// permit requests: its review runs the agency's automated checks, which grant the permit by the
// agency's rules when they find nothing; with the chance OfficerShare they find something and one
// of its officers reviews the request too, for OfficerTime more. The clearance's release waits
// for the permit: the time it waits on the agency alone is the agency's time in the study.
//
// Simulated agencies grant every permit (a refusal would end the clearance, which is not what a
// staffing question turns on), and their officers are not counted: no request waits for another.
type Agency struct {
	// Rule says which lines need the agency's permit, and why. The policy's single window keeps
	// its own rule for an agency it names; the rule of one it does not name is added to it.
	Rule policy.AgencyRule
	// CheckTime is how long the agency's automated checks take, to the grant by its rules.
	CheckTime Distribution
	// OfficerShare is the share (0-1) of requests its officers review after the checks;
	// OfficerTime how long that takes.
	OfficerShare float64
	OfficerTime  Distribution
}

// DefaultAgencies are the agencies whose checks the single window ships, with review times that
// are defaults of ours: most requests granted by rule within hours, as single windows answer
// most without manual intervention (Singapore's TradeNet nine in ten), and some to an officer
// who takes days.
//
//   - NMPA, the medical products administration: the registration certificate of the test kits
//     and reagents, medical masks, medical protective clothing, ventilators and infrared
//     thermometers of MOFCOM/GACC/NMPA announcement No. 5 of 2020. Checks: median 1 hour, 90%
//     within 6 hours; an officer for one request in five: median 2 days, 90% within 7.
//   - SAMR, the market regulator: the list of qualified producers of non-medical masks and
//     respirators of the announcements that followed (No. 12 of 2020). Checks: median 30
//     minutes, 90% within 3 hours; an officer for one in ten: median 1 day, 90% within 4.
func DefaultAgencies() []Agency {
	return []Agency{
		{Rule: policy.AgencyRule{Agency: "NMPA", Categories: []declaration.Category{declaration.CategoryTestKit, declaration.CategoryReagent,
			declaration.CategoryMedicalMask, declaration.CategoryProtectiveClothing, declaration.CategoryVentilator, declaration.CategoryThermometer},
			Reason: "NMPA medical device registration certificate (MOFCOM/GACC/NMPA announcement No. 5 of 2020)"},
			CheckTime: LogNormal{Median: time.Hour, P90: 6 * time.Hour}, OfficerShare: 0.2, OfficerTime: LogNormal{Median: 2 * day, P90: 7 * day}},
		{Rule: policy.AgencyRule{Agency: "SAMR", Categories: []declaration.Category{declaration.CategoryFaceMask, declaration.CategoryRespirator},
			Reason: "producer on SAMR's list of qualified producers (MOFCOM/GACC/SAMR announcement No. 12 of 2020)"},
			CheckTime: LogNormal{Median: 30 * time.Minute, P90: 3 * time.Hour}, OfficerShare: 0.1, OfficerTime: LogNormal{Median: day, P90: 4 * day}},
	}
}

const day = 24 * time.Hour

// agency returns the model of the agency named, if the configuration has one.
func (c Config) agency(name string) (Agency, bool) {
	for _, a := range c.Agencies {
		if a.Rule.Agency == name {
			return a, true
		}
	}
	return Agency{}, false
}

// singleWindow is the single window the simulation runs with: the policy's rules, then the rules
// of the agencies it does not name.
func (c Config) singleWindow() []policy.AgencyRule {
	rules := slices.Clone(c.Policy.SingleWindow)
	for _, a := range c.Agencies {
		if !slices.ContainsFunc(rules, func(r policy.AgencyRule) bool { return r.Agency == a.Rule.Agency }) {
			rules = append(rules, a.Rule)
		}
	}
	return rules
}

func (c Config) validateAgencies() []string {
	var errs []string
	seen := map[string]bool{}
	for _, a := range c.Agencies {
		name := a.Rule.Agency
		if seen[name] {
			errs = append(errs, fmt.Sprintf("agencies: %s is named twice", name))
		}
		seen[name] = true
		if a.CheckTime == nil {
			errs = append(errs, fmt.Sprintf("agencies: %s: check time missing", name))
		}
		if a.OfficerShare < 0 || a.OfficerShare > 1 || math.IsNaN(a.OfficerShare) {
			errs = append(errs, fmt.Sprintf("agencies: %s: officer share %v is not between 0 and 1", name, a.OfficerShare))
		}
		if a.OfficerShare > 0 && a.OfficerTime == nil {
			errs = append(errs, fmt.Sprintf("agencies: %s: officer time missing", name))
		}
	}
	named := map[string]bool{}
	for _, r := range c.Policy.SingleWindow {
		named[r.Agency] = true
		if !seen[r.Agency] {
			errs = append(errs, fmt.Sprintf("agencies: the policy's single window names %s, which has no review time", r.Agency))
		}
	}
	for _, a := range c.Agencies {
		if len(a.Rule.Categories) == 0 && !named[a.Rule.Agency] {
			errs = append(errs, fmt.Sprintf("agencies: %s: the policy's single window says for no category that its permit is needed", a.Rule.Agency))
		}
	}
	return errs
}

// ParseAgencies reads the agencies to simulate: "none", or their short names ("NMPA,SAMR"), each
// with its defaults (DefaultAgencies). An agency that is not among them (a health authority put
// on the single window under a name of its own) takes its rule from the policy's single window,
// and its officer reviews every request: median 2 days, 90% within 7. Each setting then changes
// one agency's review time: "NMPA:checks=fixed:2h;officer-share=0.3;officer=lognormal:median=3d,p90=9d".
func ParseAgencies(names string, settings []string) ([]Agency, error) {
	var out []Agency
	if n := strings.TrimSpace(names); n != "" && n != "none" {
		names, err := agency.ParseList(n)
		if err != nil {
			return nil, fmt.Errorf("agencies: %w", err)
		}
		for _, name := range names {
			a := Agency{Rule: policy.AgencyRule{Agency: name}, CheckTime: Fixed(0), OfficerShare: 1, OfficerTime: LogNormal{Median: 2 * day, P90: 7 * day}}
			for _, d := range DefaultAgencies() {
				if d.Rule.Agency == name {
					a = d
				}
			}
			out = append(out, a)
		}
	}
	for _, setting := range settings {
		name, kvs, _ := strings.Cut(strings.TrimSpace(setting), ":")
		i := slices.IndexFunc(out, func(a Agency) bool { return a.Rule.Agency == name })
		if i < 0 {
			return nil, fmt.Errorf("agency time %q: %q is not one of the agencies simulated", setting, name)
		}
		for _, kv := range strings.Split(kvs, ";") {
			if strings.TrimSpace(kv) == "" {
				continue
			}
			if err := out[i].set(kv); err != nil {
				return nil, fmt.Errorf("agency time %q: %w", setting, err)
			}
		}
	}
	return out, nil
}

// set changes one setting of the agency's review time: checks=D, officer-share=S or officer=D.
func (a *Agency) set(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		return fmt.Errorf("%q is not setting=value", kv)
	}
	var err error
	switch k = strings.TrimSpace(k); k {
	case "checks":
		a.CheckTime, err = ParseDistribution(v)
	case "officer":
		a.OfficerTime, err = ParseDistribution(v)
	case "officer-share":
		a.OfficerShare, err = strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err == nil && (a.OfficerShare < 0 || a.OfficerShare > 1 || math.IsNaN(a.OfficerShare)) {
			err = fmt.Errorf("%q is not a share from 0 to 1", v)
		}
	default:
		return fmt.Errorf("%q is not checks, officer-share or officer", k)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", k, err)
	}
	return nil
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
