package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/medsupply/customs/declaration"
)

// AgencyRule names a partner agency whose permit a clearance asks through the single window: the
// lines of the categories it lists need it, and Reason says why, as customs tells the exporter
// and the agency (for example, NMPA's registration certificate for devices and test kits under
// announcement No. 5 of 2020). The agency is reached at its Nexus endpoint; setup creates it.
type AgencyRule struct {
	Agency     string                 `json:"agency"`
	Categories []declaration.Category `json:"categories"`
	Reason     string                 `json:"reason"`
}

// MaxAgencyRules bounds the agencies of the single window.
const MaxAgencyRules = 10

// agencyName is an agency's short name: upper-case letters, digits and dashes.
var agencyName = regexp.MustCompile(`^[A-Z][A-Z0-9-]{1,15}$`)

// Lines returns the IDs of the declaration's lines that need the rule's agency.
func (r AgencyRule) Lines(d declaration.Declaration) []string {
	var ids []string
	for _, l := range d.Lines {
		if slices.Contains(r.Categories, l.Category) {
			ids = append(ids, l.ID)
		}
	}
	return ids
}

func validateSingleWindow(rules []AgencyRule) []string {
	var errs []string
	if len(rules) > MaxAgencyRules {
		errs = append(errs, fmt.Sprintf("singleWindow: %d agencies, more than %d", len(rules), MaxAgencyRules))
	}
	seen := map[string]bool{}
	for i, r := range rules {
		at := fmt.Sprintf("singleWindow[%d]", i)
		switch {
		case !agencyName.MatchString(r.Agency):
			errs = append(errs, fmt.Sprintf("%s.agency: %q is not an agency's short name (such as NMPA)", at, declaration.Clip(r.Agency, 40)))
		case seen[r.Agency]:
			errs = append(errs, fmt.Sprintf("%s.agency: %s is listed twice", at, r.Agency))
		}
		seen[r.Agency] = true
		if len(r.Categories) == 0 {
			errs = append(errs, fmt.Sprintf("%s.categories: the agency's permit is needed for no category", at))
		}
		for j, c := range r.Categories {
			if !slices.Contains(declaration.Categories, c) {
				errs = append(errs, fmt.Sprintf("%s.categories[%d]: %q is not a product category", at, j, declaration.Clip(string(c), 40)))
			}
		}
		if strings.TrimSpace(r.Reason) == "" || len(r.Reason) > 500 {
			errs = append(errs, fmt.Sprintf("%s.reason: required, at most 500 bytes", at))
		}
	}
	return errs
}

// StandardAgencyRules are the rules of the agencies whose checks the single window ships, as the
// export rules of spring 2020 had them: the medical products administration's registration
// certificate for the devices and test kits of MOFCOM/GACC/NMPA announcement No. 5 (test kits and
// reagents, medical masks, medical protective clothing, ventilators, infrared thermometers), and
// the market regulator's list of qualified producers for the non-medical masks and respirators of
// the announcements that followed (MOFCOM/GACC/SAMR announcement No. 12).
var StandardAgencyRules = map[string]AgencyRule{
	"NMPA": {Agency: "NMPA", Categories: []declaration.Category{declaration.CategoryTestKit, declaration.CategoryReagent,
		declaration.CategoryMedicalMask, declaration.CategoryProtectiveClothing, declaration.CategoryVentilator, declaration.CategoryThermometer},
		Reason: "NMPA medical device registration certificate (MOFCOM/GACC/NMPA announcement No. 5 of 2020)"},
	"SAMR": {Agency: "SAMR", Categories: []declaration.Category{declaration.CategoryFaceMask, declaration.CategoryRespirator},
		Reason: "producer on SAMR's list of qualified producers (MOFCOM/GACC/SAMR announcement No. 12 of 2020)"},
}

// StandardSingleWindow returns the standard rules of the agencies named, in that order; an
// agency without standard rules is an error.
func StandardSingleWindow(agencies []string) ([]AgencyRule, error) {
	var rules []AgencyRule
	for _, a := range agencies {
		r, ok := StandardAgencyRules[a]
		if !ok {
			return nil, fmt.Errorf("%q has no standard rules (NMPA, SAMR); name its lines in the policy's singleWindow", declaration.Clip(a, 40))
		}
		r.Categories = slices.Clone(r.Categories)
		rules = append(rules, r)
	}
	return rules, nil
}
