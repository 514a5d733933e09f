// Package declaration defines the export declaration an exporter lodges, its JSON form, and the
// structural validation that runs before any clearance starts. It is pure: no I/O beyond the
// bytes it is given, no clock but the one passed in.
package declaration

import "time"

// TransportMode is how the goods leave the country.
type TransportMode string

// Transport modes.
const (
	TransportAir  TransportMode = "air"
	TransportSea  TransportMode = "sea"
	TransportRail TransportMode = "rail"
	TransportRoad TransportMode = "road"
)

// TransportModes lists every transport mode.
var TransportModes = []TransportMode{TransportAir, TransportSea, TransportRail, TransportRoad}

// Category is the product category of a goods line; the certification rules key on it.
type Category string

// Product categories. The set follows the products named in MOFCOM/GACC/NMPA announcement No. 5
// of 2020 and the goods in DOMAIN.md.
const (
	CategoryFaceMask           Category = "face-mask"            // non-medical textile mask
	CategoryMedicalMask        Category = "medical-mask"         // surgical / medical mask
	CategoryRespirator         Category = "respirator"           // FFP2, FFP3, N95, KN95
	CategoryProtectiveClothing Category = "protective-clothing"  // medical protective garments
	CategoryGloves             Category = "gloves"               // examination / surgical gloves
	CategoryNasalCannula       Category = "nasal-cannula"        // oxygen cannulas
	CategoryAnaesthesiaMask    Category = "anaesthesia-mask"     // anaesthesia face masks
	CategoryVentilator         Category = "ventilator"           // ventilators and breathing apparatus
	CategoryThermometer        Category = "thermometer"          // infrared and clinical thermometers
	CategoryTestKit            Category = "test-kit"             // diagnostic test kits (IVD)
	CategoryReagent            Category = "reagent"              // diagnostic reagents (IVD)
	CategoryVaccine            Category = "vaccine"              // vaccines and immunological products
	CategoryBloodProduct       Category = "blood-product"        // blood and blood products
	CategoryMicroorganism      Category = "microorganism"        // microorganisms, cultures
	CategoryTissue             Category = "tissue"               // human or animal tissues
	CategoryOther              Category = "other-medical-device" // any other medical device
)

// Categories lists every known category in a fixed order.
var Categories = []Category{
	CategoryFaceMask, CategoryMedicalMask, CategoryRespirator, CategoryProtectiveClothing,
	CategoryGloves, CategoryNasalCannula, CategoryAnaesthesiaMask, CategoryVentilator,
	CategoryThermometer, CategoryTestKit, CategoryReagent, CategoryVaccine, CategoryBloodProduct,
	CategoryMicroorganism, CategoryTissue, CategoryOther,
}

// BiologicalCategories lists the categories whose every product is of biological origin: a line
// of one is a biological product. Test kits and reagents may be either.
var BiologicalCategories = []Category{CategoryVaccine, CategoryBloodProduct, CategoryMicroorganism, CategoryTissue}

// RiskClass is the biological risk class of a line: A is the highest risk, D the lowest.
type RiskClass string

// Biological risk classes.
const (
	RiskA RiskClass = "A"
	RiskB RiskClass = "B"
	RiskC RiskClass = "C"
	RiskD RiskClass = "D"
)

// RiskClasses lists the biological risk classes, highest risk first.
var RiskClasses = []RiskClass{RiskA, RiskB, RiskC, RiskD}

// DeviceClass is the regulatory class of a medical device (EU MDR classes; IVDs and PPE use
// their own rules, see the certification check).
type DeviceClass string

// Device classes.
const (
	DeviceClassI   DeviceClass = "I"
	DeviceClassIIa DeviceClass = "IIa"
	DeviceClassIIb DeviceClass = "IIb"
	DeviceClassIII DeviceClass = "III"
)

// DeviceClasses lists the device classes, lowest first.
var DeviceClasses = []DeviceClass{DeviceClassI, DeviceClassIIa, DeviceClassIIb, DeviceClassIII}

// Scheme is the kind of a certificate.
type Scheme string

// Certificate schemes.
const (
	SchemeCE                Scheme = "CE"                 // EU CE marking (notified-body certificate or self-declaration)
	SchemeFDARegistration   Scheme = "FDA-REGISTRATION"   // FDA establishment registration and device listing
	SchemeFDA510K           Scheme = "FDA-510K"           // FDA premarket notification, K plus six digits
	SchemeFDAEUA            Scheme = "FDA-EUA"            // FDA Emergency Use Authorization
	SchemeNIOSH             Scheme = "NIOSH"              // NIOSH approval, TC-84A-xxxx
	SchemeNMPA              Scheme = "NMPA"               // Chinese NMPA medical device registration
	SchemeQualifiedProducer Scheme = "QUALIFIED-PRODUCER" // listing on the qualified producers list
)

// Schemes lists the certificate schemes the engine checks.
var Schemes = []Scheme{SchemeCE, SchemeFDARegistration, SchemeFDA510K, SchemeFDAEUA, SchemeNIOSH, SchemeNMPA, SchemeQualifiedProducer}

// DocumentType is the kind of an attached document.
type DocumentType string

// Document types.
const (
	DocCommercialInvoice       DocumentType = "commercial-invoice"
	DocPackingList             DocumentType = "packing-list"
	DocContract                DocumentType = "contract"
	DocQualityDeclaration      DocumentType = "quality-declaration" // manufacturer's quality declaration (announcement No. 5)
	DocRegistrationCertificate DocumentType = "registration-certificate"
	DocRiskAssessment          DocumentType = "risk-assessment" // expert biological risk assessment (classes A and B)
	DocBiosafetyApproval       DocumentType = "biosafety-approval"
	DocOther                   DocumentType = "other"
)

// DocumentTypes lists the document types of a declaration.
var DocumentTypes = []DocumentType{DocCommercialInvoice, DocPackingList, DocContract, DocQualityDeclaration,
	DocRegistrationCertificate, DocRiskAssessment, DocBiosafetyApproval, DocOther}

// Declaration is an export declaration of medical supplies.
type Declaration struct {
	// ID is the declaration ID, unique per exporter.
	ID           string `json:"id"`
	Exporter     Party  `json:"exporter"`
	Manufacturer Party  `json:"manufacturer"`
	Consignee    Party  `json:"consignee"`
	// Destination is the ISO 3166-1 alpha-2 code of the country of destination.
	Destination  string        `json:"destination"`
	Transport    TransportMode `json:"transport"`
	Lines        []Line        `json:"lines"`
	Certificates []Certificate `json:"certificates,omitempty"`
	Documents    []Document    `json:"documents"`
	Expedited    *Expedited    `json:"expedited,omitempty"`
}

// Party is an exporter, a manufacturer or a consignee.
type Party struct {
	Name string `json:"name"`
	// Code is the customs registration code (exporter), the unified social credit code or
	// producer code (manufacturer); optional for a consignee.
	Code string `json:"code,omitempty"`
	// Country is the ISO 3166-1 alpha-2 country code.
	Country string `json:"country"`
	Address string `json:"address,omitempty"`
}

// Line is one goods line of a declaration.
type Line struct {
	// ID identifies the line within the declaration ("1", "2", ...).
	ID          string `json:"id"`
	HSCode      string `json:"hsCode"`
	Description string `json:"description"`
	Quantity    int64  `json:"quantity"`
	Unit        string `json:"unit"`
	// Value is the line value in minor units of Currency (cents for USD).
	Value    int64    `json:"value"`
	Currency string   `json:"currency"`
	Category Category `json:"category"`
	// DeviceClass is the device's regulatory class, where it has one.
	DeviceClass DeviceClass `json:"deviceClass,omitempty"`
	Sterile     bool        `json:"sterile,omitempty"`
	Measuring   bool        `json:"measuring,omitempty"`
	// Biological is true for products of biological origin; they need the biological review.
	Biological bool      `json:"biological,omitempty"`
	RiskClass  RiskClass `json:"riskClass,omitempty"`
}

// Certificate is a certificate or registration covering some lines.
type Certificate struct {
	Scheme Scheme `json:"scheme"`
	Number string `json:"number"`
	// Issuer names who issued it; for CE, the notified body's four-digit number (empty for a
	// self-declaration of a class I non-sterile device).
	Issuer string `json:"issuer,omitempty"`
	// Regulation is the EU regulation a CE certificate was issued under ("MDR", "IVDR", "PPE").
	Regulation string `json:"regulation,omitempty"`
	Holder     string `json:"holder"`
	// Lines lists the IDs of the goods lines the certificate covers.
	Lines     []string  `json:"lines"`
	ValidFrom time.Time `json:"validFrom"`
	ValidTo   time.Time `json:"validTo"`
}

// Document is an attached document.
type Document struct {
	Type      DocumentType `json:"type"`
	Reference string       `json:"reference"`
	Issued    time.Time    `json:"issued,omitempty"`
	// Amount and Currency are the total of a commercial invoice, in minor units.
	Amount   int64  `json:"amount,omitempty"`
	Currency string `json:"currency,omitempty"`
	// Lines lists the goods lines a document covers, where it covers only some.
	Lines []string `json:"lines,omitempty"`
}

// Expedited is a request for the expedited procedure for emergency supplies.
type Expedited struct {
	Justification string `json:"justification"`
}

// IsExpedited reports whether the declaration asks for the expedited procedure.
func (d *Declaration) IsExpedited() bool { return d.Expedited != nil }

// NeedsBiologicalReview reports whether any line is a biological product.
func (d *Declaration) NeedsBiologicalReview() bool {
	for _, l := range d.Lines {
		if l.Biological {
			return true
		}
	}
	return false
}

// CategoryList returns the distinct categories of the lines, in line order.
func (d *Declaration) CategoryList() []string {
	var out []string
	seen := map[Category]bool{}
	for _, l := range d.Lines {
		if !seen[l.Category] {
			seen[l.Category] = true
			out = append(out, string(l.Category))
		}
	}
	return out
}

// HighestRisk returns the highest biological risk class among the lines, or "" when none is
// biological.
func (d *Declaration) HighestRisk() RiskClass {
	var best RiskClass
	for _, l := range d.Lines {
		if l.Biological && l.RiskClass != "" && (best == "" || l.RiskClass < best) {
			best = l.RiskClass
		}
	}
	return best
}
