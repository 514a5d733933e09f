package activities

import (
	"slices"
	"strings"
	"time"

	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/registry"
)

// chinaTime is China Standard Time, in which the export rules' dates fall.
var chinaTime = time.FixedZone("CST", 8*60*60)

var (
	// announcement5From is when MOFCOM/GACC/NMPA announcement No. 5 of 2020 took effect: exports
	// of COVID-19 test kits, medical masks, medical protective clothing, ventilators and
	// infrared thermometers need NMPA registration and the manufacturer's declaration.
	announcement5From = time.Date(2020, 4, 1, 0, 0, 0, 0, chinaTime)
	// nonMedicalMasksFrom is when the rule reached non-medical masks (MOFCOM/GACC/SAMR
	// announcement No. 12 of 2020): the declaration, and the producer on the list of qualified
	// producers.
	nonMedicalMasksFrom = time.Date(2020, 4, 26, 0, 0, 0, 0, chinaTime)
)

// chinaRule is what the Chinese export rules ask of a line.
type chinaRule int

const (
	chinaNone chinaRule = iota
	// chinaNMPA: NMPA registration, the registration certificate and the quality declaration.
	chinaNMPA
	// chinaQualified: the producer on the qualified list, and the quality declaration.
	chinaQualified
)

// chinaRuleFor returns the Chinese export rule for line l on the day on. The categories do not
// separate COVID-19 test kits from others, nor infrared from clinical thermometers, so the rule
// applies to every line of those categories; a respirator with a device class is a medical
// (protective) mask, one without is a non-medical mask.
func chinaRuleFor(l declaration.Line, on time.Time) chinaRule {
	if on.Before(announcement5From) {
		return chinaNone
	}
	switch l.Category {
	case declaration.CategoryTestKit, declaration.CategoryReagent, declaration.CategoryMedicalMask,
		declaration.CategoryProtectiveClothing, declaration.CategoryVentilator, declaration.CategoryThermometer:
		return chinaNMPA
	case declaration.CategoryRespirator:
		if l.DeviceClass != "" {
			return chinaNMPA
		}
		if !on.Before(nonMedicalMasksFrom) {
			return chinaQualified
		}
	case declaration.CategoryFaceMask:
		if !on.Before(nonMedicalMasksFrom) {
			return chinaQualified
		}
	}
	return chinaNone
}

// chinaRuleName names the rule in a message.
func (r chinaRule) String() string {
	switch r {
	case chinaNMPA:
		return "MOFCOM/GACC/NMPA announcement No. 5 of 2020"
	case chinaQualified:
		return "the rule for non-medical masks from 26 April 2020 (MOFCOM/GACC/SAMR announcement No. 12 of 2020)"
	}
	return "no export rule"
}

// ceMarket lists the destinations where CE marking applies: the EU member states and the other
// EEA states.
var ceMarket = map[string]bool{
	"AT": true, "BE": true, "BG": true, "HR": true, "CY": true, "CZ": true, "DK": true, "EE": true,
	"FI": true, "FR": true, "DE": true, "GR": true, "HU": true, "IE": true, "IT": true, "LV": true,
	"LT": true, "LU": true, "MT": true, "NL": true, "PL": true, "PT": true, "RO": true, "SK": true,
	"SI": true, "ES": true, "SE": true,
	"IS": true, "LI": true, "NO": true,
}

// medicinal reports whether a category is a medicinal or biological product rather than a
// device: no CE mark, no 510(k); the biological review covers it.
func medicinal(c declaration.Category) bool {
	switch c {
	case declaration.CategoryVaccine, declaration.CategoryBloodProduct, declaration.CategoryMicroorganism,
		declaration.CategoryTissue:
		return true
	}
	return false
}

// euRequirement is what CE marking asks of a line.
type euRequirement struct {
	// applies is false for goods that are not CE-marked (non-medical masks, medicinal products).
	applies bool
	// regulation is the regulation the line falls under.
	regulation string
	// notifiedBody is true when a notified body must have certified the line; false when a
	// self-declaration (a CE certificate without issuer) is enough.
	notifiedBody bool
	// classUnknown is true when only the line's device class could allow a self-declaration
	// and the line does not give it.
	classUnknown bool
}

// euRequirementFor returns what CE marking asks of line l: respirators and protective clothing
// are category III PPE; test kits and reagents are in-vitro diagnostics; other devices fall
// under the MDR, where a class I device that is neither sterile nor measuring is self-declared
// and everything else needs a notified body. Thermometers measure, and a ventilator is never
// below class IIb, whatever the line says.
func euRequirementFor(l declaration.Line) euRequirement {
	switch {
	case l.Category == declaration.CategoryFaceMask || medicinal(l.Category):
		return euRequirement{}
	case l.Category == declaration.CategoryRespirator || l.Category == declaration.CategoryProtectiveClothing:
		return euRequirement{applies: true, regulation: registry.RegulationPPE, notifiedBody: true}
	case l.Category == declaration.CategoryTestKit || l.Category == declaration.CategoryReagent:
		return euRequirement{applies: true, regulation: registry.RegulationIVDR, notifiedBody: true}
	}
	r := euRequirement{applies: true, regulation: registry.RegulationMDR}
	measuring := l.Measuring || l.Category == declaration.CategoryThermometer
	switch {
	case l.Sterile || measuring || l.Category == declaration.CategoryVentilator:
		r.notifiedBody = true
	case l.DeviceClass == "":
		r.classUnknown = true
	case l.DeviceClass != declaration.DeviceClassI:
		r.notifiedBody = true
	}
	return r
}

// usRequirement is what the US market asks of a line.
type usRequirement struct {
	applies bool
	// registration: FDA establishment registration.
	registration bool
	// clearance: a 510(k) or an EUA.
	clearance bool
	// niosh: a NIOSH approval or an EUA (respirators).
	niosh bool
}

// usRequirementFor returns what the US market asks of line l: a device needs the
// manufacturer's FDA establishment registration and a 510(k) or an EUA; a respirator needs a
// NIOSH approval or an EUA, and, when it is a medical (surgical) respirator, what a device
// needs too. Non-medical masks are not devices; biologics are licensed, not cleared, and the
// biological review covers them.
func usRequirementFor(l declaration.Line) usRequirement {
	switch {
	case l.Category == declaration.CategoryFaceMask || medicinal(l.Category):
		return usRequirement{}
	case l.Category == declaration.CategoryRespirator:
		medical := l.DeviceClass != ""
		return usRequirement{applies: true, niosh: true, registration: medical, clearance: medical}
	}
	return usRequirement{applies: true, registration: true, clearance: true}
}

// hsHeadings lists, per category, the HS code prefixes a line of that category plausibly has.
var hsHeadings = map[declaration.Category][]string{
	declaration.CategoryFaceMask:           {"630790"},
	declaration.CategoryMedicalMask:        {"630790"},
	declaration.CategoryRespirator:         {"630790", "9020"},
	declaration.CategoryProtectiveClothing: {"6210", "6211", "392620"},
	declaration.CategoryGloves:             {"4015", "392620", "6116"},
	declaration.CategoryNasalCannula:       {"9018", "9019"},
	declaration.CategoryAnaesthesiaMask:    {"9018", "9019"},
	declaration.CategoryVentilator:         {"901920"},
	declaration.CategoryThermometer:        {"902511", "902519"},
	declaration.CategoryTestKit:            {"3822", "3002"},
	declaration.CategoryReagent:            {"3822", "3002"},
	declaration.CategoryVaccine:            {"3002"},
	declaration.CategoryBloodProduct:       {"3002"},
	declaration.CategoryMicroorganism:      {"3002"},
	declaration.CategoryTissue:             {"3001", "3002", "0511"},
	declaration.CategoryOther:              {"90", "3005", "3006"},
}

// plausibleHS reports whether the HS code fits the category, and the headings that would.
func plausibleHS(l declaration.Line) (bool, []string) {
	heads, known := hsHeadings[l.Category]
	digits, ok := declaration.NormalizeHSCode(l.HSCode)
	if !known || !ok {
		return true, nil
	}
	for _, h := range heads {
		if strings.HasPrefix(digits, h) {
			return true, heads
		}
	}
	return false, heads
}

// formatHeadings prints HS prefixes as tariffs do: 630790 as 6307.90.
func formatHeadings(heads []string) string {
	out := make([]string, len(heads))
	for i, h := range heads {
		if len(h) > 4 {
			h = h[:4] + "." + h[4:]
		}
		out[i] = h
	}
	return strings.Join(out, ", ")
}

// DefaultContractThresholds is the goods value above which a contract must be attached, per
// currency, in minor units: the equivalent of about 50,000 US dollars.
var DefaultContractThresholds = map[string]int64{
	"USD": 50_000_00,
	"EUR": 50_000_00,
	"GBP": 40_000_00,
	"CHF": 50_000_00,
	"CNY": 350_000_00,
	"HKD": 400_000_00,
	"JPY": 5_000_000,
	"KRW": 60_000_000,
	"AUD": 75_000_00,
	"CAD": 70_000_00,
	"SGD": 70_000_00,
}

// covering returns the indexes of the documents of type t that cover line id; a document that
// lists no lines covers all of them.
func covering(d *declaration.Declaration, t declaration.DocumentType, id string) []int {
	var out []int
	for j, doc := range d.Documents {
		if doc.Type == t && (len(doc.Lines) == 0 || slices.Contains(doc.Lines, id)) {
			out = append(out, j)
		}
	}
	return out
}

// hasDocument reports whether the declaration carries a document of type t.
func hasDocument(d *declaration.Declaration, t declaration.DocumentType) bool {
	return slices.ContainsFunc(d.Documents, func(doc declaration.Document) bool { return doc.Type == t })
}

// documentTitle names a document type in a message.
func documentTitle(t declaration.DocumentType) string {
	switch t {
	case declaration.DocCommercialInvoice:
		return "commercial invoice"
	case declaration.DocPackingList:
		return "packing list"
	case declaration.DocContract:
		return "contract"
	case declaration.DocQualityDeclaration:
		return "manufacturer's quality declaration"
	case declaration.DocRegistrationCertificate:
		return "registration certificate"
	case declaration.DocRiskAssessment:
		return "expert risk assessment"
	case declaration.DocBiosafetyApproval:
		return "biosafety approval"
	}
	return string(t)
}

// certificatesCovering returns the indexes of the certificates that cover line id.
func certificatesCovering(d *declaration.Declaration, id string) []int {
	var out []int
	for i, c := range d.Certificates {
		if slices.Contains(c.Lines, id) {
			out = append(out, i)
		}
	}
	return out
}

func date(t time.Time) string { return t.Format("2006-01-02") }
