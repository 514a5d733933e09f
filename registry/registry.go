// Package registry answers the questions the clearance checks ask of public registers: is this
// body notified for that EU regulation, is this FDA registration, 510(k), EUA or NIOSH approval
// on file and whose is it, is this NMPA registration valid, is this producer on the list of
// qualified producers, and what is this exporter's customs record. Registry is the interface the
// checks use; FileRegistry is the default, backed by JSON files that ship with the repository
// (registry/data) or are loaded from a directory at run time.
package registry

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/medsupply/customs/declaration"
)

// Registry looks up certificates, issuers, producers and exporters. Each method returns the
// record and true when it is on file, false when it is not; a malformed number is simply not on
// file. The error is for infrastructure failures only (a remote register that cannot be
// reached): callers retry on it and never read it as "not found".
type Registry interface {
	// NotifiedBody looks up an EU notified body by its four-digit number.
	NotifiedBody(ctx context.Context, number string) (NotifiedBody, bool, error)
	// FDAEstablishment looks up an FDA establishment registration by its registration number.
	FDAEstablishment(ctx context.Context, number string) (FDAEstablishment, bool, error)
	// Clearance510K looks up an FDA premarket notification by its K number.
	Clearance510K(ctx context.Context, number string) (Clearance510K, bool, error)
	// EUA looks up an FDA Emergency Use Authorization by its EUA number.
	EUA(ctx context.Context, number string) (EUA, bool, error)
	// NIOSHApproval looks up a NIOSH respirator approval by its TC-84A number.
	NIOSHApproval(ctx context.Context, number string) (NIOSHApproval, bool, error)
	// NMPARegistration looks up an NMPA medical device registration, in its Chinese form
	// (国械注准20203400176) or its ASCII form (NMPA-20203400176).
	NMPARegistration(ctx context.Context, number string) (NMPARegistration, bool, error)
	// QualifiedProducer looks up a producer on the list of qualified producers by its code
	// (unified social credit code) or its name, English or Chinese; names compare as SameName
	// does.
	QualifiedProducer(ctx context.Context, nameOrCode string) (QualifiedProducer, bool, error)
	// ExporterRecord looks up an exporter's customs record by its customs registration code.
	ExporterRecord(ctx context.Context, code string) (ExporterRecord, bool, error)
}

// EU regulations a notified body can be designated under. The clearance checks use the first
// three; the others exist so that a body's designations can be listed in full, which is what
// shows that a machinery body is not a PPE body.
const (
	RegulationMDR       = "MDR"       // Regulation (EU) 2017/745 on medical devices
	RegulationIVDR      = "IVDR"      // Regulation (EU) 2017/746 on in vitro diagnostic medical devices
	RegulationPPE       = "PPE"       // Regulation (EU) 2016/425 on personal protective equipment
	RegulationMachinery = "Machinery" // Directive 2006/42/EC on machinery
	RegulationLifts     = "Lifts"     // Directive 2014/33/EU on lifts
	RegulationPED       = "PED"       // Directive 2014/68/EU on pressure equipment
	RegulationRED       = "RED"       // Directive 2014/53/EU on radio equipment
)

// Regulations lists the known regulations.
var Regulations = []string{RegulationMDR, RegulationIVDR, RegulationPPE, RegulationMachinery,
	RegulationLifts, RegulationPED, RegulationRED}

// RegulationTitle returns the legal title of a regulation, or the name itself when unknown.
func RegulationTitle(reg string) string {
	switch reg {
	case RegulationMDR:
		return "the Medical Devices Regulation (EU) 2017/745"
	case RegulationIVDR:
		return "the In Vitro Diagnostic Medical Devices Regulation (EU) 2017/746"
	case RegulationPPE:
		return "the PPE Regulation (EU) 2016/425"
	case RegulationMachinery:
		return "the Machinery Directive 2006/42/EC"
	case RegulationLifts:
		return "the Lifts Directive 2014/33/EU"
	case RegulationPED:
		return "the Pressure Equipment Directive 2014/68/EU"
	case RegulationRED:
		return "the Radio Equipment Directive 2014/53/EU"
	}
	return reg
}

// NotifiedBody is an EU notified body (a conformity assessment body listed in NANDO).
type NotifiedBody struct {
	// Number is the four-digit identification number that follows the CE mark.
	Number  string `json:"number"`
	Name    string `json:"name"`
	Country string `json:"country"`
	// Designations are the regulations the body is notified for, with their periods.
	Designations []Designation `json:"designations"`
}

// Designation is a notified body's notification under one regulation.
type Designation struct {
	Regulation string `json:"regulation"`
	// From is the first day of the notification; zero when it predates the register.
	From time.Time `json:"from,omitzero"`
	// Until is when the notification ended (withdrawn, expired, or lost, as UK bodies lost
	// theirs at the end of 2020); zero while it is in force.
	Until time.Time `json:"until,omitzero"`
}

// NotifiedFor reports whether the body is notified under regulation reg on the day on.
func (b NotifiedBody) NotifiedFor(reg string, on time.Time) bool {
	for _, d := range b.Designations {
		if d.Regulation == reg && within(on, d.From, d.Until) {
			return true
		}
	}
	return false
}

// RegulationsOn returns the regulations the body is notified for on the day on.
func (b NotifiedBody) RegulationsOn(on time.Time) []string {
	var regs []string
	for _, d := range b.Designations {
		if within(on, d.From, d.Until) && !slices.Contains(regs, d.Regulation) {
			regs = append(regs, d.Regulation)
		}
	}
	return regs
}

// FDAEstablishment is an FDA establishment registration of a device firm.
type FDAEstablishment struct {
	// Number is the registration number (7 or 10 digits).
	Number  string `json:"number"`
	Firm    string `json:"firm"`
	Country string `json:"country"`
	// ValidThrough is the end of the registration year it is current for (registrations are
	// renewed every year); zero when not recorded.
	ValidThrough time.Time `json:"validThrough,omitzero"`
}

// Clearance510K is an FDA premarket notification clearance.
type Clearance510K struct {
	// Number is K plus six digits.
	Number string `json:"number"`
	Device string `json:"device"`
	// ProductCode is FDA's three-letter product code.
	ProductCode string               `json:"productCode"`
	Category    declaration.Category `json:"category"`
	Holder      string               `json:"holder"`
	Decided     time.Time            `json:"decided"`
}

// EUA is an FDA Emergency Use Authorization of a product.
type EUA struct {
	// Number is EUA plus six digits.
	Number   string               `json:"number"`
	Product  string               `json:"product"`
	Category declaration.Category `json:"category"`
	Holder   string               `json:"holder"`
	Issued   time.Time            `json:"issued"`
	// Revoked is the day the authorization was revoked; zero while it is in force.
	Revoked time.Time `json:"revoked,omitzero"`
}

// NIOSHApproval is a NIOSH approval of a respirator.
type NIOSHApproval struct {
	// Number is the approval number TC-84A-xxxx.
	Number string `json:"number"`
	Holder string `json:"holder"`
	Model  string `json:"model"`
	// Class is the filter class (N95, P100, ...).
	Class  string    `json:"class"`
	Issued time.Time `json:"issued"`
	// Revoked is the day the approval was revoked or rescinded; zero while it is in force.
	Revoked time.Time `json:"revoked,omitzero"`
}

// NMPARegistration is a Chinese medical device registration certificate.
type NMPARegistration struct {
	// Number is the registration number in its Chinese form, such as 国械注准20203400176 (a
	// national class III registration) or 浙械注准20202140287 (a provincial class II one).
	Number string `json:"number"`
	Holder string `json:"holder"`
	// HolderLocal is the holder's registered Chinese name.
	HolderLocal string               `json:"holderLocal,omitempty"`
	Product     string               `json:"product"`
	Category    declaration.Category `json:"category"`
	ValidFrom   time.Time            `json:"validFrom"`
	ValidTo     time.Time            `json:"validTo"`
}

// ASCII returns the registration number in its ASCII form, NMPA-20203400176.
func (r NMPARegistration) ASCII() string {
	digits, _ := NMPADigits(r.Number)
	return "NMPA-" + digits
}

// HeldBy reports whether name is the holder's English or Chinese name.
func (r NMPARegistration) HeldBy(name string) bool {
	return SameName(r.Holder, name) || (r.HolderLocal != "" && SameName(r.HolderLocal, name))
}

// QualifiedProducer is a producer on the list of qualified producers that Chinese customs
// checks mask exporters against from 26 April 2020.
type QualifiedProducer struct {
	// Code is the producer's unified social credit code (18 characters).
	Code      string `json:"code"`
	Name      string `json:"name"`
	NameLocal string `json:"nameLocal,omitempty"`
	// Categories are the products the listing covers.
	Categories []declaration.Category `json:"categories"`
	Listed     time.Time              `json:"listed"`
	// Delisted is the day the producer was taken off the list; zero while it is listed.
	Delisted time.Time `json:"delisted,omitzero"`
}

// Named reports whether name is the producer's English or Chinese name.
func (p QualifiedProducer) Named(name string) bool {
	return SameName(p.Name, name) || (p.NameLocal != "" && SameName(p.NameLocal, name))
}

// ListedOn reports whether the producer is on the list on the day on.
func (p QualifiedProducer) ListedOn(on time.Time) bool { return within(on, p.Listed, p.Delisted) }

// Rating is an exporter's customs credit rating.
type Rating string

// Customs credit ratings, after the Chinese customs enterprise credit system.
const (
	// RatingAdvanced is an advanced certified enterprise (AEO).
	RatingAdvanced Rating = "advanced-certified"
	// RatingGeneral is an enterprise of general credit.
	RatingGeneral Rating = "general-credit"
	// RatingDiscredited is an enterprise that has lost credit.
	RatingDiscredited Rating = "discredited"
)

// ExporterRecord is an exporter's customs history.
type ExporterRecord struct {
	// Code is the customs registration code (10 letters or digits).
	Code   string `json:"code"`
	Name   string `json:"name"`
	Rating Rating `json:"rating"`
	// Declarations counts the declarations the exporter lodged before.
	Declarations int `json:"declarations"`
	// PriorRefusals counts those that were refused.
	PriorRefusals int `json:"priorRefusals"`
	// LastRefusal is the day of the latest refusal; zero when none.
	LastRefusal time.Time `json:"lastRefusal,omitzero"`
}

// within reports whether on falls in [from, until]; a zero bound is open.
func within(on, from, until time.Time) bool {
	if !from.IsZero() && on.Before(from) {
		return false
	}
	if !until.IsZero() && on.After(until) {
		return false
	}
	return true
}

var (
	notifiedBodyPattern = regexp.MustCompile(`^[0-9]{4}$`)
	fdaRegPattern       = regexp.MustCompile(`^([0-9]{7}|[0-9]{10})$`)
	k510Pattern         = regexp.MustCompile(`^K[0-9]{6}$`)
	euaPattern          = regexp.MustCompile(`^EUA[0-9]{6}$`)
	nioshPattern        = regexp.MustCompile(`^TC-84A-[0-9]{4}$`)
	// An NMPA registration: the issuing authority (国 for NMPA itself, a province's
	// abbreviation for a provincial bureau), 械注, the kind (准 domestic, 进 imported, 许 Hong
	// Kong, Macao and Taiwan), then the year, the class, the category and a serial number.
	nmpaPattern      = regexp.MustCompile(`^([国京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼])械注([准进许])([0-9]{4}[1-3][0-9]{6})号?$`)
	nmpaASCIIPattern = regexp.MustCompile(`^NMPA-([0-9]{4}[1-3][0-9]{6})$`)
	exporterPattern  = regexp.MustCompile(`^[A-Za-z0-9]{10}$`)
	uscPattern       = regexp.MustCompile(`^[0-9A-HJ-NPQRTUWXY]{18}$`)
)

// IsNotifiedBodyNumber reports whether s is a four-digit notified body number.
func IsNotifiedBodyNumber(s string) bool { return notifiedBodyPattern.MatchString(s) }

// IsFDARegistrationNumber reports whether s is an FDA registration number: 7 or 10 digits.
func IsFDARegistrationNumber(s string) bool { return fdaRegPattern.MatchString(s) }

// Is510KNumber reports whether s is a 510(k) number: K and six digits.
func Is510KNumber(s string) bool { return k510Pattern.MatchString(s) }

// IsEUANumber reports whether s is an EUA number: EUA and six digits.
func IsEUANumber(s string) bool { return euaPattern.MatchString(s) }

// IsNIOSHNumber reports whether s is a NIOSH approval number: TC-84A- and four digits.
func IsNIOSHNumber(s string) bool { return nioshPattern.MatchString(s) }

// IsNMPANumber reports whether s is an NMPA registration number in its Chinese or ASCII form.
func IsNMPANumber(s string) bool {
	_, ok := NMPADigits(s)
	return ok
}

// NMPADigits returns the eleven digits (year, class, category, serial) of an NMPA
// registration number in its Chinese or ASCII form, and whether s is one.
func NMPADigits(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if m := nmpaPattern.FindStringSubmatch(s); m != nil {
		return m[3], true
	}
	if m := nmpaASCIIPattern.FindStringSubmatch(s); m != nil {
		return m[1], true
	}
	return "", false
}

// IsExporterCode reports whether s is a customs registration code: ten letters or digits.
func IsExporterCode(s string) bool { return exporterPattern.MatchString(s) }

// IsCreditCode reports whether s has the form of a unified social credit code: 18 digits or
// capital letters other than I, O, S, V and Z.
func IsCreditCode(s string) bool { return uscPattern.MatchString(s) }

// NormalizeName reduces a company name to its letters and digits, lower-cased, so that names
// that differ only in case, spacing and punctuation compare equal: "Ningbo Kangrun Medical
// Instruments Co., Ltd." and "NINGBO KANGRUN MEDICAL INSTRUMENTS CO LTD" both become
// "ningbokangrunmedicalinstrumentscoltd". Chinese names keep their characters.
func NormalizeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// SameName reports whether a and b name the same company, ignoring case, spacing and
// punctuation. Two names that reduce to nothing are not the same.
func SameName(a, b string) bool {
	na := NormalizeName(a)
	return na != "" && na == NormalizeName(b)
}
