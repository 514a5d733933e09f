package agency

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/registry"
)

// ActivityChecks is the registered name of Activities.AgencyChecks.
const ActivityChecks = "AgencyChecks"

// ErrInvalidRequest is the failure type of a review whose request Validate refuses.
const ErrInvalidRequest = "InvalidPermitRequest"

// Activities are the agency's activities: its automated checks, over the engine's registries,
// and its roster.
type Activities struct {
	// Agency is the agency whose checks run.
	Agency string
	// Registry is where the checks look certificates and producers up.
	Registry registry.Registry
	// Roster is the agency's officers: who may decide what the checks find.
	Roster Roster
	// Now is the clock of the checks; nil means time.Now.
	Now func() time.Time
}

// NewActivities returns the activities of agency over reg, with its roster, or the built-in
// one when roster is nil.
func NewActivities(agency string, reg registry.Registry, roster *Roster) (*Activities, error) {
	if err := CheckAgency(agency); err != nil {
		return nil, fmt.Errorf("agency: %w", err)
	}
	if reg == nil {
		return nil, fmt.Errorf("agency %s: no registry to check against", agency)
	}
	r := Roster{}
	if roster != nil {
		r = *roster
	} else {
		var err error
		if r, err = DefaultRoster(agency); err != nil {
			return nil, err
		}
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if r.Agency != agency {
		return nil, fmt.Errorf("roster: agency: the roster is %s's, not %s's", r.Agency, agency)
	}
	return &Activities{Agency: agency, Registry: reg, Roster: r}, nil
}

// Finding is one problem the agency's automated checks found.
type Finding struct {
	// Code names the rule: no-registration, malformed-registration, unknown-registration,
	// registration-expired, registration-not-yet-valid, holder-mismatch, product-mismatch,
	// producer-not-listed, producer-delisted, category-not-listed, officer-review, and
	// more-findings for the ones past MaxFindings.
	Code string `json:"code"`
	// Line is the line it concerns, when it concerns one.
	Line string `json:"line,omitempty"`
	// Field is where in the declaration it is, such as certificates[0].number or manufacturer.
	Field   string `json:"field"`
	Message string `json:"message"`
}

// CheckInput is what the agency's checks look at: the request, on the day of the check.
type CheckInput struct {
	Request PermitRequest `json:"request"`
	On      time.Time     `json:"on"`
}

// CheckResult is what the agency's checks found, and what the review needs to go on: the
// officers who may decide, and the bounds of a permit's validity.
type CheckResult struct {
	Findings []Finding `json:"findings,omitempty"`
	// Officers are the IDs of the agency's officers who may decide the findings.
	Officers []string `json:"officers"`
	// Validity is how long a permit is valid; ValidUntil, when set, ends it earlier (the
	// registration certificates it rests on expire then).
	Validity   time.Duration `json:"validity"`
	ValidUntil time.Time     `json:"validUntil,omitzero"`
	Checked    time.Time     `json:"checked"`
}

// AgencyChecks runs the agency's automated checks on the lines the request names.
//
// NMPA: every line needs an NMPA registration certificate (scheme NMPA) covering it, well
// formed, on the NMPA register, valid on the day, held by the manufacturer and registered for
// the line's product category; a permit is valid no longer than the certificates it rests on.
// SAMR: the manufacturer (by its code, then its name) is on the list of qualified producers on the
// day, listed for each line's category. Another agency has no checks: its officer reviews every
// request (finding officer-review).
//
// A request that is not valid fails the activity with the non-retryable ErrInvalidRequest; a
// registry that cannot be reached is a plain error, and the activity is retried.
func (a *Activities) AgencyChecks(ctx context.Context, in CheckInput) (CheckResult, error) {
	req := in.Request
	if err := req.Validate(); err != nil {
		return CheckResult{}, temporal.NewNonRetryableApplicationError("permit request: "+err.Error(), ErrInvalidRequest, nil)
	}
	if req.Agency != a.Agency {
		return CheckResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"permit request: agency: %s's request reached %s's checks", req.Agency, a.Agency), ErrInvalidRequest, nil)
	}
	p, _ := ProfileOf(a.Agency)
	c := &checker{ctx: ctx, reg: a.Registry, req: req, on: in.On}
	var err error
	switch a.Agency {
	case NMPA:
		err = c.nmpa()
	case SAMR:
		err = c.samr()
	default:
		c.add("officer-review", "", "lines", "%s has no automated checks: its officer reviews every request", a.Agency)
	}
	if err != nil {
		return CheckResult{}, err
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	res := CheckResult{Findings: boundFindings(c.findings), Officers: a.Roster.Deciders(), Validity: p.Validity,
		ValidUntil: c.validUntil, Checked: now()}
	activity.GetLogger(ctx).Info("agency checks ran", "agency", a.Agency, "declarationID", req.Declaration.ID,
		"request", req.RequestID, "findings", len(c.findings))
	return res, nil
}

// checker holds the state of one run of an agency's checks.
type checker struct {
	ctx        context.Context
	reg        registry.Registry
	req        PermitRequest
	on         time.Time
	findings   []Finding
	validUntil time.Time
}

func (c *checker) add(code, line, field, format string, args ...any) {
	c.findings = append(c.findings, Finding{Code: code, Line: line, Field: field, Message: fmt.Sprintf(format, args...)})
}

func label(l declaration.Line) string { return fmt.Sprintf("line %s (%s)", l.ID, l.Category) }

func date(t time.Time) string { return t.UTC().Format("2006-01-02") }

// nmpa checks each requested line's NMPA registration certificates.
func (c *checker) nmpa() error {
	d := c.req.Declaration
	for _, l := range c.req.requested() {
		covering := 0
		for i, cert := range d.Certificates {
			if cert.Scheme != declaration.SchemeNMPA || !slices.Contains(cert.Lines, l.ID) {
				continue
			}
			covering++
			if err := c.registration(l, i, cert); err != nil {
				return err
			}
		}
		if covering == 0 {
			c.add("no-registration", l.ID, "certificates", "%s: no NMPA registration certificate covers it", label(l))
		}
	}
	return nil
}

func (c *checker) registration(l declaration.Line, i int, cert declaration.Certificate) error {
	field := fmt.Sprintf("certificates[%d].number", i)
	name := fmt.Sprintf("NMPA registration %s", clip(cert.Number))
	if !registry.IsNMPANumber(cert.Number) {
		c.add("malformed-registration", l.ID, field, "%s: %s is not an NMPA registration number such as 国械注准20203400176 or NMPA-20203400176",
			label(l), name)
		return nil
	}
	r, found, err := c.reg.NMPARegistration(c.ctx, cert.Number)
	if err != nil {
		return fmt.Errorf("look up NMPA registration %s: %w", cert.Number, err)
	}
	if !found {
		c.add("unknown-registration", l.ID, field, "%s: %s is not on the NMPA register of medical devices", label(l), name)
		return nil
	}
	ok := true
	switch {
	case c.on.Before(r.ValidFrom):
		c.add("registration-not-yet-valid", l.ID, field, "%s: %s is registered only from %s", label(l), name, date(r.ValidFrom))
		ok = false
	case c.on.After(r.ValidTo):
		c.add("registration-expired", l.ID, field, "%s: %s expired on the NMPA register on %s", label(l), name, date(r.ValidTo))
		ok = false
	}
	if m := c.req.Declaration.Manufacturer.Name; !r.HeldBy(m) {
		c.add("holder-mismatch", l.ID, field, "%s: %s is held by %s, not by the manufacturer %s", label(l), name, r.Holder, clip(m))
		ok = false
	}
	if r.Category != l.Category {
		c.add("product-mismatch", l.ID, field, "%s: %s registers %q, a %s, not a %s", label(l), name, r.Product, r.Category, l.Category)
		ok = false
	}
	if ok && (c.validUntil.IsZero() || r.ValidTo.Before(c.validUntil)) {
		c.validUntil = r.ValidTo
	}
	return nil
}

// samr checks the manufacturer on the list of qualified producers for each requested line.
func (c *checker) samr() error {
	m := c.req.Declaration.Manufacturer
	p, found, err := c.producer(m)
	if err != nil {
		return err
	}
	if !found {
		c.add("producer-not-listed", "", "manufacturer", "the manufacturer %s is not on the list of qualified producers", clip(m.Name))
		return nil
	}
	if !p.ListedOn(c.on) {
		c.add("producer-delisted", "", "manufacturer", "the manufacturer %s was taken off the list of qualified producers on %s",
			p.Name, date(p.Delisted))
		return nil
	}
	for _, l := range c.req.requested() {
		if !slices.Contains(p.Categories, l.Category) {
			c.add("category-not-listed", l.ID, "manufacturer", "%s: the listing of %s as a qualified producer does not cover %s",
				label(l), p.Name, l.Category)
		}
	}
	return nil
}

// producer finds the manufacturer on the list of qualified producers by its code, then by its name.
func (c *checker) producer(m declaration.Party) (registry.QualifiedProducer, bool, error) {
	if m.Code != "" {
		p, found, err := c.reg.QualifiedProducer(c.ctx, m.Code)
		if err != nil {
			return p, false, fmt.Errorf("look up qualified producer %s: %w", m.Code, err)
		}
		if found {
			return p, true, nil
		}
	}
	p, found, err := c.reg.QualifiedProducer(c.ctx, m.Name)
	if err != nil {
		return p, false, fmt.Errorf("look up qualified producer %s: %w", m.Name, err)
	}
	return p, found, nil
}

// boundFindings keeps the first MaxFindings-1 findings and one that counts the rest.
func boundFindings(fs []Finding) []Finding {
	if len(fs) <= MaxFindings {
		return fs
	}
	out := append([]Finding{}, fs[:MaxFindings-1]...)
	return append(out, Finding{Code: "more-findings", Field: "lines",
		Message: fmt.Sprintf("and %d more findings", len(fs)-(MaxFindings-1))})
}
