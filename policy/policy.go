// Package policy holds the configuration a clearance runs under: the stages and their time
// allowances against the 20-day standard, the risk lanes, the deadline for exporters to answer,
// and the roster of officers with their roles. The worker loads it from files; the workflow
// records the copy it used in its history.
package policy

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/medsupply/customs/registry"
)

// Stage is a stage of the clearance.
type Stage string

// The stages, in the order a clearance passes them.
const (
	// StageDocumentCheck checks that the declaration is complete and consistent.
	StageDocumentCheck Stage = "document-check"
	// StageBiologicalReview is the health-quarantine review of biological products.
	StageBiologicalReview Stage = "biological-review"
	// StageCertificationCheck checks each line's certificates for its destination market.
	StageCertificationCheck Stage = "certification-check"
	// StagePhysicalInspection is the red lane's inspection of the goods.
	StagePhysicalInspection Stage = "physical-inspection"
	// StageRelease issues the release notice.
	StageRelease Stage = "release"
)

// Stages lists every stage in order.
var Stages = []Stage{StageDocumentCheck, StageBiologicalReview, StageCertificationCheck, StagePhysicalInspection, StageRelease}

// Lane is a risk lane.
type Lane string

// Risk lanes.
const (
	// LaneGreen releases without officer review when the automated checks find nothing.
	LaneGreen Lane = "green"
	// LaneYellow adds a documentary check by an officer.
	LaneYellow Lane = "yellow"
	// LaneRed adds a physical inspection before release.
	LaneRed Lane = "red"
)

// ValidLane reports whether l is a known lane.
func ValidLane(l Lane) bool { return l == LaneGreen || l == LaneYellow || l == LaneRed }

// Role is an officer's role.
type Role string

// Officer roles.
const (
	RoleDocument         Role = "document-officer"
	RoleHealthQuarantine Role = "health-quarantine-officer"
	RoleCertification    Role = "certification-officer"
	RoleInspection       Role = "inspection-officer"
	RoleRelease          Role = "release-officer"
	RoleSupervisor       Role = "supervisor"
)

// StageRole returns the role that decides a stage.
func StageRole(s Stage) Role {
	switch s {
	case StageDocumentCheck:
		return RoleDocument
	case StageBiologicalReview:
		return RoleHealthQuarantine
	case StageCertificationCheck:
		return RoleCertification
	case StagePhysicalInspection:
		return RoleInspection
	case StageRelease:
		return RoleRelease
	}
	return ""
}

// Officer is a customs officer on the roster.
type Officer struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Roles []Role `json:"roles"`
}

// Has reports whether the officer holds role r. A supervisor may act in every role.
func (o Officer) Has(r Role) bool {
	for _, x := range o.Roles {
		if x == r || x == RoleSupervisor {
			return true
		}
	}
	return false
}

// Roster is the list of officers.
type Roster struct {
	Officers []Officer `json:"officers"`
}

// Find returns the officer with the given ID.
func (r Roster) Find(id string) (Officer, bool) {
	for _, o := range r.Officers {
		if o.ID == id {
			return o, true
		}
	}
	return Officer{}, false
}

// WithRole returns the IDs of the officers who hold role r, in roster order.
func (r Roster) WithRole(role Role) []string {
	var ids []string
	for _, o := range r.Officers {
		for _, x := range o.Roles {
			if x == role {
				ids = append(ids, o.ID)
				break
			}
		}
	}
	return ids
}

// Duration is a time.Duration that reads and writes as a string in JSON ("48h", "2d", "12d").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes the duration in days where it is a whole number of days.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.String())
}

// UnmarshalJSON reads "12d", "36h", "90m" and other time.ParseDuration forms.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"2d\" or \"36h\"")
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ParseDuration parses a duration that may use a "d" suffix for days ("2d", "1.5d", "-3d").
func ParseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseFloat(n, 64)
		if err != nil || math.IsNaN(days) || math.IsInf(days, 0) || math.Abs(days) > 100000 {
			return 0, fmt.Errorf("%q is not a duration", s)
		}
		return time.Duration(days * float64(24*time.Hour)), nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration", s)
	}
	return v, nil
}

// String formats the duration as MarshalJSON does.
func (d Duration) String() string {
	td := time.Duration(d)
	if td != 0 && td%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", td/(24*time.Hour))
	}
	return td.String()
}

// Allowances are the time each stage may take.
type Allowances struct {
	DocumentCheck      Duration `json:"documentCheck"`
	BiologicalReview   Duration `json:"biologicalReview"`
	CertificationCheck Duration `json:"certificationCheck"`
	PhysicalInspection Duration `json:"physicalInspection"`
	Release            Duration `json:"release"`
}

// For returns the allowance of stage s.
func (a Allowances) For(s Stage) time.Duration {
	switch s {
	case StageDocumentCheck:
		return a.DocumentCheck.D()
	case StageBiologicalReview:
		return a.BiologicalReview.D()
	case StageCertificationCheck:
		return a.CertificationCheck.D()
	case StagePhysicalInspection:
		return a.PhysicalInspection.D()
	case StageRelease:
		return a.Release.D()
	}
	return 0
}

// Policy is the configuration a clearance runs under.
type Policy struct {
	// Standard is the approval standard every clearance is measured against: 20 days.
	Standard Duration `json:"standard"`
	// Allowances split the standard between the stages.
	Allowances Allowances `json:"allowances"`
	// ExpeditedAllowances apply to the expedited procedure for emergency supplies.
	ExpeditedAllowances Allowances `json:"expeditedAllowances"`
	// InformationDeadline is how long an exporter has to answer a request for information
	// before the declaration lapses.
	InformationDeadline Duration `json:"informationDeadline"`
	// SamplePercent is the share of otherwise green declarations sent to the yellow lane at
	// random, in percent (0-100).
	SamplePercent int `json:"samplePercent"`
	// SamplePercentByRating replaces SamplePercent for exporters of a customs credit rating
	// (registry.Rating: advanced-certified, general-credit, discredited), as an enterprise
	// credit system controls trusted traders less and discredited ones more.
	SamplePercentByRating map[string]int `json:"samplePercentByRating,omitempty"`
	// PriorityByRating is the queue priority of the declarations of exporters of a customs credit
	// rating (high, normal or low; normal without one), as an enterprise credit system gives
	// trusted traders priority. Expedited declarations are urgent whatever the rating.
	PriorityByRating map[string]string `json:"priorityByRating,omitempty"`
	// PriorityKeys maps each queue priority (urgent, high, normal, low) to the priority key of
	// the clearance's tasks in the Temporal task queue, from 1 (dispatched first) to
	// MaxPriorityKey, so that under a backlog an emergency's automated stages run before the
	// rest. A priority it leaves out keeps its built-in key (urgent 1, high 2, normal 3, low 4).
	PriorityKeys map[string]int `json:"priorityKeys,omitempty"`
	// HighRiskDestinations are destinations whose declarations go to the red lane.
	HighRiskDestinations []string `json:"highRiskDestinations,omitempty"`
	// Calendar says whether allowances count calendar time or working days.
	Calendar Calendar `json:"calendar,omitempty"`
	// TraderTime says whether the time a clearance waits on its exporter counts against the
	// stage's allowance and the standard: "stop" (the default) stops the clock, as the WCO Time
	// Release Study separates trader time and licensing law excludes the applicant's corrections;
	// "count" counts it.
	TraderTime string `json:"traderTime,omitempty"`
	// AppealWindow is how long after a refusal the exporter may appeal it; 0 takes no appeals.
	AppealWindow Duration `json:"appealWindow,omitempty"`
	// SingleWindow names the partner agencies whose permit a clearance asks through the single
	// window, and for which lines; none by default.
	SingleWindow []AgencyRule `json:"singleWindow,omitempty"`
}

// Trader time counting (Policy.TraderTime).
const (
	TraderTimeStops  = "stop"
	TraderTimeCounts = "count"
)

// TraderTimeStopsTheClock reports whether waiting on the exporter stops the clock.
func (p Policy) TraderTimeStopsTheClock() bool { return p.TraderTime != TraderTimeCounts }

// Queue priorities (Policy.PriorityByRating, LaneSelection.Priority), the value of the search
// attribute Priority.
const (
	PriorityUrgent = "urgent"
	PriorityHigh   = "high"
	PriorityNormal = "normal"
	PriorityLow    = "low"
)

// PriorityFor returns the queue priority of a declaration of an exporter of rating (empty: no
// customs record): urgent when expedited, else the policy's for the rating, else normal.
func (p Policy) PriorityFor(rating string, expedited bool) string {
	if expedited {
		return PriorityUrgent
	}
	if v, ok := p.PriorityByRating[rating]; ok && rating != "" {
		return v
	}
	return PriorityNormal
}

// MaxPriorityKey is the largest task-queue priority key a policy may give: Temporal's server
// dispatches keys 1 to 5 (matching.priorityLevels), 1 first, and treats an unset key as 3.
const MaxPriorityKey = 5

// defaultPriorityKeys are the built-in task-queue priority keys of the queue priorities: normal
// is the server's default key, which every workflow without one (an appeal, a roster
// announcement) shares; 5 is left below low.
var defaultPriorityKeys = map[string]int{PriorityUrgent: 1, PriorityHigh: 2, PriorityNormal: 3, PriorityLow: 4}

// queuePriorities lists the queue priorities from the most to the least urgent.
var queuePriorities = []string{PriorityUrgent, PriorityHigh, PriorityNormal, PriorityLow}

// PriorityKey returns the task-queue priority key of queue priority q: the policy's, else the
// built-in one; 0 (the task inherits its workflow's, or takes the server's default) for a q that
// is not a queue priority.
func (p Policy) PriorityKey(q string) int {
	if k, ok := p.PriorityKeys[q]; ok {
		return k
	}
	return defaultPriorityKeys[q]
}

// SampleFor returns the random sample's share, in percent, for an exporter of rating (empty: no
// customs record).
func (p Policy) SampleFor(rating string) int {
	if n, ok := p.SamplePercentByRating[rating]; ok && rating != "" {
		return n
	}
	return p.SamplePercent
}

// AllowancesFor returns the allowances for the standard or the expedited procedure.
func (p Policy) AllowancesFor(expedited bool) Allowances {
	if expedited {
		return p.ExpeditedAllowances
	}
	return p.Allowances
}

//go:embed default_policy.json
var defaultPolicy []byte

//go:embed default_roster.json
var defaultRoster []byte

// Default returns the built-in policy: DOMAIN.md's split of the 20-day standard.
func Default() Policy {
	p, err := ParsePolicy(defaultPolicy)
	if err != nil {
		panic("policy: built-in policy is invalid: " + err.Error())
	}
	return p
}

// DefaultRoster returns the built-in roster of example officers.
func DefaultRoster() Roster {
	r, err := ParseRoster(defaultRoster)
	if err != nil {
		panic("policy: built-in roster is invalid: " + err.Error())
	}
	return r
}

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("unexpected data after the JSON object")
	}
	return nil
}

// ParsePolicy reads and validates a policy in JSON.
func ParsePolicy(b []byte) (Policy, error) {
	var p Policy
	if err := decodeStrict(b, &p); err != nil {
		return Policy{}, fmt.Errorf("policy: %w", err)
	}
	return p, p.Validate()
}

// Validate reports every problem in the policy at once.
func (p Policy) Validate() error {
	var errs []string
	if p.Standard <= 0 {
		errs = append(errs, "standard: must be positive")
	}
	for _, set := range []struct {
		name string
		a    Allowances
	}{{"allowances", p.Allowances}, {"expeditedAllowances", p.ExpeditedAllowances}} {
		for _, s := range Stages {
			if set.a.For(s) <= 0 {
				errs = append(errs, fmt.Sprintf("%s: %s must be positive", set.name, s))
			}
		}
	}
	if p.InformationDeadline <= 0 {
		errs = append(errs, "informationDeadline: must be positive")
	}
	if p.SamplePercent < 0 || p.SamplePercent > 100 {
		errs = append(errs, fmt.Sprintf("samplePercent: %d is not between 0 and 100", p.SamplePercent))
	}
	for _, rating := range slices.Sorted(maps.Keys(p.SamplePercentByRating)) {
		n := p.SamplePercentByRating[rating]
		if !slices.Contains([]registry.Rating{registry.RatingAdvanced, registry.RatingGeneral, registry.RatingDiscredited}, registry.Rating(rating)) {
			errs = append(errs, fmt.Sprintf("samplePercentByRating: %q is not a rating (advanced-certified, general-credit, discredited)", rating))
		}
		if n < 0 || n > 100 {
			errs = append(errs, fmt.Sprintf("samplePercentByRating.%s: %d is not between 0 and 100", rating, n))
		}
	}
	for _, rating := range slices.Sorted(maps.Keys(p.PriorityByRating)) {
		if !slices.Contains([]registry.Rating{registry.RatingAdvanced, registry.RatingGeneral, registry.RatingDiscredited}, registry.Rating(rating)) {
			errs = append(errs, fmt.Sprintf("priorityByRating: %q is not a rating (advanced-certified, general-credit, discredited)", rating))
		}
		if v := p.PriorityByRating[rating]; v != PriorityHigh && v != PriorityNormal && v != PriorityLow {
			errs = append(errs, fmt.Sprintf("priorityByRating.%s: %q is not high, normal or low", rating, v))
		}
	}
	for _, q := range slices.Sorted(maps.Keys(p.PriorityKeys)) {
		switch k := p.PriorityKeys[q]; {
		case !slices.Contains(queuePriorities, q):
			errs = append(errs, fmt.Sprintf("priorityKeys: %q is not a queue priority (urgent, high, normal, low)", q))
		case k < 1 || k > MaxPriorityKey:
			errs = append(errs, fmt.Sprintf("priorityKeys.%s: %d is not between 1 (dispatched first) and %d", q, k, MaxPriorityKey))
		}
	}
	for i := 1; i < len(queuePriorities); i++ {
		hi, lo := queuePriorities[i-1], queuePriorities[i]
		if p.PriorityKey(hi) > p.PriorityKey(lo) {
			errs = append(errs, fmt.Sprintf("priorityKeys: %s (%d) would be dispatched after %s (%d); a more urgent priority takes a key no larger",
				hi, p.PriorityKey(hi), lo, p.PriorityKey(lo)))
		}
	}
	if p.TraderTime != "" && p.TraderTime != TraderTimeStops && p.TraderTime != TraderTimeCounts {
		errs = append(errs, fmt.Sprintf("traderTime: %q is not stop or count", p.TraderTime))
	}
	if p.AppealWindow < 0 {
		errs = append(errs, "appealWindow: must not be negative (0 takes no appeals)")
	}
	errs = append(errs, p.Calendar.Validate()...)
	errs = append(errs, validateSingleWindow(p.SingleWindow)...)
	if len(errs) > 0 {
		return fmt.Errorf("policy: %s", strings.Join(errs, "; "))
	}
	return nil
}

// ParseRoster reads and validates a roster in JSON.
func ParseRoster(b []byte) (Roster, error) {
	var r Roster
	if err := decodeStrict(b, &r); err != nil {
		return Roster{}, fmt.Errorf("roster: %w", err)
	}
	return r, r.Validate()
}

// Validate reports every problem in the roster at once.
func (r Roster) Validate() error {
	var errs []string
	seen := map[string]bool{}
	known := map[Role]bool{RoleDocument: true, RoleHealthQuarantine: true, RoleCertification: true,
		RoleInspection: true, RoleRelease: true, RoleSupervisor: true}
	for i, o := range r.Officers {
		if o.ID == "" {
			errs = append(errs, fmt.Sprintf("officers[%d].id: missing", i))
		} else if seen[o.ID] {
			errs = append(errs, fmt.Sprintf("officers[%d].id: %q appears twice", i, o.ID))
		}
		seen[o.ID] = true
		if len(o.Roles) == 0 {
			errs = append(errs, fmt.Sprintf("officers[%d].roles: missing", i))
		}
		for j, role := range o.Roles {
			if !known[role] {
				errs = append(errs, fmt.Sprintf("officers[%d].roles[%d]: %q is not a known role", i, j, role))
			}
		}
	}
	if len(r.WithRole(RoleSupervisor)) == 0 {
		errs = append(errs, "officers: no supervisor; escalations need one")
	}
	if len(errs) > 0 {
		return fmt.Errorf("roster: %s", strings.Join(errs, "; "))
	}
	return nil
}

// LoadPolicy reads a policy file, or returns the built-in policy when path is empty.
func LoadPolicy(path string) (Policy, error) {
	if path == "" {
		return Default(), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Policy{}, fmt.Errorf("read policy: %w", err)
	}
	p, err := ParsePolicy(b)
	if err != nil {
		return Policy{}, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// LoadRoster reads a roster file, or returns the built-in roster when path is empty.
func LoadRoster(path string) (Roster, error) {
	if path == "" {
		return DefaultRoster(), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Roster{}, fmt.Errorf("read roster: %w", err)
	}
	r, err := ParseRoster(b)
	if err != nil {
		return Roster{}, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}
