package agency

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/medsupply/customs/declaration"
)

// Roles on an agency's roster.
const (
	// RolePermitOfficer decides permit requests the agency's checks did not clear.
	RolePermitOfficer = "permit-officer"
	// RoleClerk reads the agency's queue and reviews; a clerk decides nothing.
	RoleClerk = "clerk"
)

// Officer is an agency officer on the agency's roster.
type Officer struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
}

// Has reports whether the officer holds role r.
func (o Officer) Has(r string) bool { return slices.Contains(o.Roles, r) }

// Roster is an agency's list of its officers. An agency officer decides only in their own
// agency: a review takes decisions from the officers on its agency's roster alone.
type Roster struct {
	Agency   string    `json:"agency"`
	Officers []Officer `json:"officers"`
}

// MaxOfficers bounds a roster.
const MaxOfficers = 500

// Find returns the officer with the given ID.
func (r Roster) Find(id string) (Officer, bool) {
	for _, o := range r.Officers {
		if o.ID == id {
			return o, true
		}
	}
	return Officer{}, false
}

// Deciders returns the IDs of the officers who may decide a permit request, in roster order.
func (r Roster) Deciders() []string {
	var ids []string
	for _, o := range r.Officers {
		if o.Has(RolePermitOfficer) {
			ids = append(ids, o.ID)
		}
	}
	return ids
}

// Validate reports every problem of the roster at once, naming the field.
func (r Roster) Validate() error {
	var errs []string
	if err := CheckAgency(r.Agency); err != nil {
		errs = append(errs, "agency: "+err.Error())
	}
	if len(r.Officers) > MaxOfficers {
		errs = append(errs, fmt.Sprintf("officers: %d officers, more than the %d a roster may hold", len(r.Officers), MaxOfficers))
	}
	seen := map[string]bool{}
	for i, o := range r.Officers {
		switch {
		case o.ID == "":
			errs = append(errs, fmt.Sprintf("officers[%d].id: missing", i))
		case !requestIDPattern.MatchString(o.ID) || len(o.ID) > MaxRequestedBytes || strings.Contains(o.ID, "/"):
			errs = append(errs, fmt.Sprintf("officers[%d].id: %q must be letters, digits, '.', '_' or '-'", i, clip(o.ID)))
		case seen[o.ID]:
			errs = append(errs, fmt.Sprintf("officers[%d].id: %q appears twice", i, o.ID))
		}
		seen[o.ID] = true
		if why := declaration.TextProblem(o.Name, declaration.MaxNameBytes, false); why != "" {
			errs = append(errs, fmt.Sprintf("officers[%d].name: %s", i, why))
		}
		if len(o.Roles) == 0 {
			errs = append(errs, fmt.Sprintf("officers[%d].roles: missing", i))
		}
		for j, role := range o.Roles {
			if role != RolePermitOfficer && role != RoleClerk {
				errs = append(errs, fmt.Sprintf("officers[%d].roles[%d]: %q is not %s or %s", i, j, clip(role), RolePermitOfficer, RoleClerk))
			}
		}
	}
	if len(r.Deciders()) == 0 {
		errs = append(errs, fmt.Sprintf("officers: no %s; the agency's findings need one to decide", RolePermitOfficer))
	}
	if len(errs) > 0 {
		return fmt.Errorf("roster: %s", strings.Join(errs, "; "))
	}
	return nil
}

// ParseRoster reads and validates a roster in JSON; unknown fields are refused.
func ParseRoster(b []byte) (Roster, error) {
	var r Roster
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Roster{}, fmt.Errorf("roster: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return Roster{}, fmt.Errorf("roster: data after the JSON object")
	}
	return r, r.Validate()
}

// LoadRoster reads a roster file, or returns the agency's built-in roster when path is empty.
func LoadRoster(agency, path string) (Roster, error) {
	if path == "" {
		return DefaultRoster(agency)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Roster{}, fmt.Errorf("read roster: %w", err)
	}
	r, err := ParseRoster(b)
	if err != nil {
		return Roster{}, fmt.Errorf("%s: %w", path, err)
	}
	if r.Agency != agency {
		return Roster{}, fmt.Errorf("%s: roster: agency: the roster is %s's, not %s's", path, r.Agency, agency)
	}
	return r, nil
}

//go:embed data/*-roster.json
var builtIn embed.FS

// DefaultRoster returns the built-in roster of example officers of an agency whose checks ship
// (data/nmpa-roster.json, data/samr-roster.json).
func DefaultRoster(agency string) (Roster, error) {
	b, err := builtIn.ReadFile("data/" + strings.ToLower(agency) + "-roster.json")
	if err != nil || CheckAgency(agency) != nil {
		return Roster{}, fmt.Errorf("roster: %s has no built-in roster; give its roster file", clip(agency))
	}
	return ParseRoster(b)
}
