package declaration

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Problem is one thing wrong with a declaration.
type Problem struct {
	// Field is the JSON path of the field at fault, such as "lines[2].hsCode"; empty when the
	// problem is with the input as a whole (too large, not JSON).
	Field string `json:"field,omitempty"`
	// Reason says what is wrong, in words the exporter can act on.
	Reason string `json:"reason"`
}

// String returns "field: reason", or the reason alone when no field is named.
func (p Problem) String() string {
	if p.Field == "" {
		return p.Reason
	}
	return p.Field + ": " + p.Reason
}

// MaxProblems is the most problems a ValidationError lists; it counts the rest in Omitted, so
// that a hostile declaration cannot make an error larger than a workflow payload may be.
const MaxProblems = 100

// ValidationError lists every problem found in a declaration. Parse, Validate and
// ParseAndValidate return it, always with at least one problem.
type ValidationError struct {
	Problems []Problem `json:"problems"`
	// Omitted counts the problems found beyond MaxProblems and not listed.
	Omitted int `json:"omitted,omitempty"`
}

// Error returns the problems one per line, as "lines[2].hsCode: "30021" is not a 6-10 digit HS
// code".
func (e *ValidationError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
	}
	if e.Omitted > 0 {
		fmt.Fprintf(&b, "\nand %d more problems", e.Omitted)
	}
	return b.String()
}

// problems collects problems up to MaxProblems.
type problems struct {
	list    []Problem
	omitted int
}

func (ps *problems) add(field, format string, args ...any) {
	if len(ps.list) >= MaxProblems {
		ps.omitted++
		return
	}
	ps.list = append(ps.list, Problem{Field: field, Reason: fmt.Sprintf(format, args...)})
}

// text adds a problem when s cannot be the value of the text field at path (see TextProblem).
func (ps *problems) text(path, s string, max int) {
	if why := TextProblem(s, max, false); why != "" {
		ps.add(path, "%s", why)
	}
}

// err returns the problems as a *ValidationError, or nil when there are none.
func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	return &ValidationError{Problems: ps.list, Omitted: ps.omitted}
}

// idPattern is the form of a declaration ID; the clearance's workflow ID is built from it.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// minJustification is the fewest characters (runes, leading and trailing space aside) that
// explain a request for the expedited procedure.
const minJustification = 20

// Validate checks the structure of a declaration and reports every problem at once in a
// *ValidationError, or returns nil. It checks that what is there is well formed and consistent
// within itself: fields present, codes from their lists, HS codes of the right form, positive
// quantities and values, references to lines that exist, certificate validity periods in order.
// It uses no clock and does not judge completeness (documents a declaration must carry, invoice
// totals against the lines, whether a certificate is valid today or fits the market): the
// clearance stages do.
func (d *Declaration) Validate() error {
	var ps problems
	switch id := d.ID; {
	case blank(id):
		ps.add("id", "missing")
	case !idPattern.MatchString(id):
		ps.add("id", "%s must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", quote(id))
	}

	d.Exporter.check(&ps, "exporter")
	switch code := d.Exporter.Code; {
	case blank(code):
		ps.add("exporter.code", "missing: the exporter's customs registration code is required")
	case !isRegistrationCode(code):
		ps.add("exporter.code", "%s is not a customs registration code of 10 letters or digits", quote(code))
	}
	d.Manufacturer.check(&ps, "manufacturer")
	d.Consignee.check(&ps, "consignee")

	switch dest := d.Destination; {
	case blank(dest):
		ps.add("destination", "missing")
	case !IsCountryCode(dest):
		ps.add("destination", "%s", notCountry(dest))
	case dest == d.Exporter.Country:
		ps.add("destination", "%s is the exporter's country; an export must leave it", quote(dest))
	}

	switch {
	case slices.Contains(TransportModes, d.Transport):
	case d.Transport == "":
		ps.add("transport", "missing")
	default:
		ps.add("transport", "%s is not a transport mode (air, sea, rail, road)", quote(string(d.Transport)))
	}

	lineIDs := d.checkLines(&ps)
	d.checkTotals(&ps)
	if len(d.Certificates) > MaxCertificates {
		ps.add("certificates", "%d certificates are more than the %d a declaration may carry", len(d.Certificates), MaxCertificates)
	}
	if len(d.Documents) > MaxDocuments {
		ps.add("documents", "%d documents are more than the %d a declaration may carry", len(d.Documents), MaxDocuments)
	}
	for i, c := range d.Certificates {
		c.check(&ps, fmt.Sprintf("certificates[%d]", i), lineIDs)
	}
	for i, doc := range d.Documents {
		doc.check(&ps, fmt.Sprintf("documents[%d]", i), lineIDs)
	}

	if d.Expedited != nil {
		j := strings.TrimSpace(d.Expedited.Justification)
		if why := TextProblem(d.Expedited.Justification, MaxJustificationBytes, true); why != "" {
			ps.add("expedited.justification", "%s", why)
		} else if n := utf8.RuneCountInString(j); n < minJustification {
			ps.add("expedited.justification", "must explain the emergency in at least %d characters, not %d", minJustification, n)
		}
	}
	return ps.err()
}

// check checks the name and country every party has.
func (p Party) check(ps *problems, path string) {
	if blank(p.Name) {
		ps.add(path+".name", "missing")
	}
	ps.text(path+".name", p.Name, MaxNameBytes)
	ps.text(path+".code", p.Code, MaxCodeBytes)
	ps.text(path+".address", p.Address, MaxAddressBytes)
	switch {
	case blank(p.Country):
		ps.add(path+".country", "missing")
	case !IsCountryCode(p.Country):
		ps.add(path+".country", "%s", notCountry(p.Country))
	}
}

// checkLines checks the goods lines and returns the set of their IDs.
func (d *Declaration) checkLines(ps *problems) map[string]bool {
	if len(d.Lines) == 0 {
		ps.add("lines", "at least one goods line is required")
	}
	if len(d.Lines) > MaxLines {
		ps.add("lines", "%d goods lines are more than the %d a declaration may carry", len(d.Lines), MaxLines)
	}
	ids := make(map[string]bool, len(d.Lines))
	first := make(map[string]int, len(d.Lines))
	for i, l := range d.Lines {
		path := fmt.Sprintf("lines[%d]", i)
		switch {
		case blank(l.ID):
			ps.add(path+".id", "missing")
		case ids[l.ID]:
			ps.add(path+".id", "%s is also the id of lines[%d]", quote(l.ID), first[l.ID])
		default:
			ids[l.ID] = true
			first[l.ID] = i
		}
		l.check(ps, path)
	}
	return ids
}

// checkTotals checks that the lines' values add up, per currency, to an amount that an int64 of
// minor units can hold: the document check compares invoices with these sums.
func (d *Declaration) checkTotals(ps *problems) {
	totals := map[string]int64{}
	for i, l := range d.Lines {
		if l.Value <= 0 {
			continue
		}
		if totals[l.Currency] > math.MaxInt64-l.Value {
			ps.add(fmt.Sprintf("lines[%d].value", i), "the values of the lines in %s add up past %d, the largest amount in minor units",
				quote(l.Currency), int64(math.MaxInt64))
			return
		}
		totals[l.Currency] += l.Value
	}
}

// check checks one goods line but for its ID, which needs the other lines.
func (l Line) check(ps *problems, path string) {
	ps.text(path+".id", l.ID, MaxCodeBytes)
	ps.text(path+".hsCode", l.HSCode, MaxCodeBytes)
	ps.text(path+".description", l.Description, MaxDescriptionBytes)
	ps.text(path+".unit", l.Unit, MaxCodeBytes)
	if blank(l.HSCode) {
		ps.add(path+".hsCode", "missing")
	} else if _, ok := NormalizeHSCode(l.HSCode); !ok {
		ps.add(path+".hsCode", "%s is not a 6-10 digit HS code", quote(l.HSCode))
	}
	if blank(l.Description) {
		ps.add(path+".description", "missing")
	}
	if l.Quantity <= 0 {
		ps.add(path+".quantity", "must be positive, not %d", l.Quantity)
	}
	if blank(l.Unit) {
		ps.add(path+".unit", "missing")
	}
	if l.Value <= 0 {
		ps.add(path+".value", "must be positive, not %d", l.Value)
	}
	switch {
	case blank(l.Currency):
		ps.add(path+".currency", "missing")
	case !IsCurrencyCode(l.Currency):
		ps.add(path+".currency", "%s", notCurrency(l.Currency))
	}
	switch {
	case l.Category == "":
		ps.add(path+".category", "missing")
	case !l.Category.known():
		ps.add(path+".category", "%s is not a product category", quote(string(l.Category)))
	case l.Category.alwaysBiological() && !l.Biological:
		ps.add(path+".biological", "a %s line is a biological product and must be marked biological", l.Category)
	}
	switch {
	case l.DeviceClass == "", slices.Contains(DeviceClasses, l.DeviceClass):
	default:
		ps.add(path+".deviceClass", "%s is not a device class (I, IIa, IIb, III)", quote(string(l.DeviceClass)))
	}
	switch {
	case l.Biological && l.RiskClass == "":
		ps.add(path+".riskClass", "missing: a biological product needs its risk class (A to D)")
	case l.Biological && !l.RiskClass.known():
		ps.add(path+".riskClass", "%s is not a risk class (A, B, C, D)", quote(string(l.RiskClass)))
	case !l.Biological && l.RiskClass != "":
		ps.add(path+".riskClass", "only a biological product has a risk class")
	}
}

// check checks one certificate against the set of line IDs.
func (c Certificate) check(ps *problems, path string, lineIDs map[string]bool) {
	switch {
	case c.Scheme == "":
		ps.add(path+".scheme", "missing")
	case !c.Scheme.Known():
		ps.add(path+".scheme", "%s is not a certificate scheme", quote(string(c.Scheme)))
	}
	if blank(c.Number) {
		ps.add(path+".number", "missing")
	}
	if blank(c.Holder) {
		ps.add(path+".holder", "missing")
	}
	ps.text(path+".number", c.Number, MaxCodeBytes)
	ps.text(path+".issuer", c.Issuer, MaxCodeBytes)
	ps.text(path+".regulation", c.Regulation, MaxCodeBytes)
	ps.text(path+".holder", c.Holder, MaxNameBytes)
	if len(c.Lines) == 0 {
		ps.add(path+".lines", "must name at least one goods line it covers")
	}
	checkLineRefs(ps, path, c.Lines, lineIDs)
	if c.ValidFrom.IsZero() {
		ps.add(path+".validFrom", "missing")
	}
	if c.ValidTo.IsZero() {
		ps.add(path+".validTo", "missing")
	}
	if !c.ValidFrom.IsZero() && !c.ValidTo.IsZero() && !c.ValidFrom.Before(c.ValidTo) {
		ps.add(path+".validTo", "%s is not after validFrom %s",
			c.ValidTo.Format("2006-01-02T15:04:05Z07:00"), c.ValidFrom.Format("2006-01-02T15:04:05Z07:00"))
	}
}

// check checks one attached document against the set of line IDs.
func (doc Document) check(ps *problems, path string, lineIDs map[string]bool) {
	switch {
	case doc.Type == "":
		ps.add(path+".type", "missing")
	case !doc.Type.Known():
		ps.add(path+".type", "%s is not a document type", quote(string(doc.Type)))
	}
	if blank(doc.Reference) {
		ps.add(path+".reference", "missing")
	}
	ps.text(path+".reference", doc.Reference, MaxCodeBytes)
	// An amount is optional: whether an invoice must carry one and whether it matches the
	// lines is the document check's to judge. What is given must be well formed.
	if doc.Amount < 0 {
		ps.add(path+".amount", "must be positive, not %d", doc.Amount)
	}
	switch {
	case doc.Amount != 0 && blank(doc.Currency):
		ps.add(path+".currency", "missing: an amount needs its currency")
	case doc.Currency != "" && !IsCurrencyCode(doc.Currency):
		ps.add(path+".currency", "%s", notCurrency(doc.Currency))
	}
	checkLineRefs(ps, path, doc.Lines, lineIDs)
}

// checkLineRefs checks that each referenced line exists and is named once.
func checkLineRefs(ps *problems, path string, refs []string, lineIDs map[string]bool) {
	seen := make(map[string]bool, len(refs))
	for j, ref := range refs {
		p := path + ".lines[" + strconv.Itoa(j) + "]"
		switch {
		case !lineIDs[ref]:
			ps.add(p, "%s is not the id of a goods line", quote(ref))
		case seen[ref]:
			ps.add(p, "%s is listed more than once", quote(ref))
		}
		seen[ref] = true
	}
}

// NormalizeHSCode returns the digits of an HS code and whether it is well formed: 6 to 10
// digits, optionally grouped by single dots between digits as customs tariffs print them
// ("6307.90", "3002.15.00", "9018.90.8000"). The dots are dropped: "6307.90" becomes "630790".
// No other character is allowed, nor a dot at either end or two in a row.
func NormalizeHSCode(code string) (string, bool) {
	if code == "" || code[0] == '.' || code[len(code)-1] == '.' || strings.Contains(code, "..") {
		return "", false
	}
	digits := strings.ReplaceAll(code, ".", "")
	if len(digits) < 6 || len(digits) > 10 {
		return "", false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return "", false
		}
	}
	return digits, true
}

// isRegistrationCode reports whether s has the form of a Chinese customs registration code:
// ten ASCII letters or digits.
func isRegistrationCode(s string) bool {
	if len(s) != 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

func blank(s string) bool { return strings.TrimSpace(s) == "" }

func notCountry(s string) string {
	if up := strings.ToUpper(s); up != s && IsCountryCode(up) {
		return fmt.Sprintf("%s is not an ISO 3166-1 alpha-2 country code: write it in capitals, %q", quote(s), up)
	}
	return fmt.Sprintf("%s is not an ISO 3166-1 alpha-2 country code", quote(s))
}

func notCurrency(s string) string {
	if up := strings.ToUpper(s); up != s && IsCurrencyCode(up) {
		return fmt.Sprintf("%s is not an ISO 4217 currency code: write it in capitals, %q", quote(s), up)
	}
	return fmt.Sprintf("%s is not an ISO 4217 currency code", quote(s))
}

func (c Category) known() bool { return slices.Contains(Categories, c) }

// alwaysBiological reports whether every product of the category is of biological origin. Test
// kits and reagents may be either.
func (c Category) alwaysBiological() bool { return slices.Contains(BiologicalCategories, c) }

func (r RiskClass) known() bool { return slices.Contains(RiskClasses, r) }

// Known reports whether s is a certificate scheme the engine checks.
func (s Scheme) Known() bool { return slices.Contains(Schemes, s) }

// Known reports whether t is a document type of the declaration.
func (t DocumentType) Known() bool { return slices.Contains(DocumentTypes, t) }
