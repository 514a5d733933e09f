package declaration_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/medsupply/customs/declaration"
)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// validDeclaration is a Ningbo maker's air shipment of medical masks and N95 respirators to the
// US, as in the spring of 2020.
func validDeclaration() declaration.Declaration {
	const maker = "Ningbo Kangjian Medical Supplies Co., Ltd."
	return declaration.Declaration{
		ID:           "NB-2020-0331-001",
		Exporter:     declaration.Party{Name: maker, Code: "3302960123", Country: "CN", Address: "Beilun District, Ningbo, Zhejiang"},
		Manufacturer: declaration.Party{Name: maker, Code: "91330206MA2GQ1XY7K", Country: "CN"},
		Consignee:    declaration.Party{Name: "Bayside Medical Distribution LLC", Country: "US", Address: "Oakland, CA"},
		Destination:  "US",
		Transport:    declaration.TransportAir,
		Lines: []declaration.Line{
			{ID: "1", HSCode: "6307.90", Description: "Medical face masks, 3-ply, ear loop", Quantity: 500000,
				Unit: "pcs", Value: 25000000, Currency: "USD", Category: declaration.CategoryMedicalMask},
			{ID: "2", HSCode: "6307.90.9845", Description: "N95 particulate respirators", Quantity: 100000,
				Unit: "pcs", Value: 15000000, Currency: "USD", Category: declaration.CategoryRespirator},
		},
		Certificates: []declaration.Certificate{
			{Scheme: declaration.SchemeFDARegistration, Number: "3016789012", Holder: maker,
				Lines: []string{"1", "2"}, ValidFrom: date(2020, 1, 1), ValidTo: date(2020, 12, 31)},
			{Scheme: declaration.SchemeNIOSH, Number: "TC-84A-9123", Issuer: "NIOSH", Holder: maker,
				Lines: []string{"2"}, ValidFrom: date(2019, 6, 1), ValidTo: date(2024, 6, 1)},
		},
		Documents: []declaration.Document{
			{Type: declaration.DocCommercialInvoice, Reference: "INV-2020-0331", Issued: date(2020, 3, 31),
				Amount: 40000000, Currency: "USD"},
			{Type: declaration.DocPackingList, Reference: "PL-2020-0331"},
			{Type: declaration.DocQualityDeclaration, Reference: "QD-2020-0331", Lines: []string{"1", "2"}},
		},
		Expedited: &declaration.Expedited{Justification: "Emergency supplies for US hospitals during the COVID-19 outbreak"},
	}
}

// problemsOf returns the problems of a *ValidationError, failing the test on any other error.
func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var ve *declaration.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not a *ValidationError", err, err)
	}
	if len(ve.Problems) == 0 {
		t.Fatalf("ValidationError without problems")
	}
	out := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		out[i] = p.String()
	}
	return out
}

func TestValidDeclarations(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(d *declaration.Declaration)
	}{
		{"fixture", func(d *declaration.Declaration) {}},
		{"not expedited", func(d *declaration.Declaration) { d.Expedited = nil }},
		{"no certificates or documents", func(d *declaration.Declaration) { d.Certificates, d.Documents = nil, nil }},
		{"undotted and ten-digit HS codes", func(d *declaration.Declaration) {
			d.Lines[0].HSCode = "630790"
			d.Lines[1].HSCode = "6307909845"
		}},
		{"biological test kit with a risk class", func(d *declaration.Declaration) {
			d.Lines = append(d.Lines, declaration.Line{ID: "3", HSCode: "3822.00", Description: "COVID-19 IgM/IgG antibody rapid test",
				Quantity: 20000, Unit: "kits", Value: 9000000, Currency: "USD", Category: declaration.CategoryTestKit,
				Biological: true, RiskClass: declaration.RiskC})
		}},
		{"non-biological reagent", func(d *declaration.Declaration) {
			d.Lines[0].Category = declaration.CategoryReagent
		}},
		{"device classes", func(d *declaration.Declaration) {
			d.Lines[0].DeviceClass = declaration.DeviceClassI
			d.Lines[1].DeviceClass = declaration.DeviceClassIIa
		}},
		{"invoice without amount", func(d *declaration.Declaration) {
			d.Documents[0].Amount, d.Documents[0].Currency = 0, ""
		}},
		{"justification of exactly 20 characters", func(d *declaration.Declaration) {
			d.Expedited.Justification = "  " + strings.Repeat("x", 20) + "  "
		}},
		{"Chinese justification counted in characters", func(d *declaration.Declaration) {
			d.Expedited.Justification = "新冠肺炎疫情期间美国医院急需的防疫物资口罩和防护用品"
		}},
		{"longest id", func(d *declaration.Declaration) { d.ID = "A" + strings.Repeat("b._-9", 12) + "123" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := validDeclaration()
			tt.mutate(&d)
			if err := d.Validate(); err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
		})
	}
}

func TestValidateReportsEachProblem(t *testing.T) {
	type D = declaration.Declaration
	tests := []struct {
		name   string
		mutate func(d *D)
		want   []string
	}{
		{"id missing", func(d *D) { d.ID = "" }, []string{"id: missing"}},
		{"id with a space", func(d *D) { d.ID = "NB 2020/1" },
			[]string{`id: "NB 2020/1" must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`}},
		{"id starting with a dash", func(d *D) { d.ID = "-1" },
			[]string{`id: "-1" must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`}},
		{"id of 65 characters", func(d *D) { d.ID = strings.Repeat("a", 65) },
			[]string{`id: "` + strings.Repeat("a", 64) + `…" must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`}},

		{"exporter name with a NUL byte", func(d *D) { d.Exporter.Name = "Ningbo\x00Kangjian" },
			[]string{`exporter.name: holds the control character '\x00' at byte 6`}},
		{"description with a terminal escape", func(d *D) { d.Lines[0].Description = "masks \x1b[31mRED" },
			[]string{`lines[0].description: holds the control character '\x1b' at byte 6`}},
		{"holder with a bidirectional override", func(d *D) { d.Certificates[0].Holder = "Ningbo \u202eLtd" },
			[]string{`certificates[0].holder: holds the control character '\u202e' at byte 7`}},
		{"reference with a line break", func(d *D) { d.Documents[1].Reference = "PL-1\nPL-2" },
			[]string{`documents[1].reference: holds the control character '\n' at byte 4`}},
		{"address of invalid UTF-8", func(d *D) { d.Consignee.Address = "Oakland \xff" },
			[]string{"consignee.address: is not valid UTF-8"}},
		{"description of 501 bytes", func(d *D) { d.Lines[1].Description = strings.Repeat("m", 501) },
			[]string{"lines[1].description: 501 bytes is longer than the 500 this field may hold"}},
		{"justification with an escape", func(d *D) { d.Expedited.Justification = "Emergency supplies for hospitals \x1b[2J" },
			[]string{`expedited.justification: holds the control character '\x1b' at byte 33`}},
		{"line values that overflow", func(d *D) {
			d.Lines[0].Value, d.Lines[1].Value = 9223372036854775807, 9223372036854775807
			d.Documents[0].Amount = 1
		}, []string{`lines[1].value: the values of the lines in "USD" add up past 9223372036854775807, the largest amount in minor units`}},
		{"too many documents", func(d *D) {
			for len(d.Documents) <= declaration.MaxDocuments {
				d.Documents = append(d.Documents, declaration.Document{Type: declaration.DocOther, Reference: fmt.Sprintf("X-%d", len(d.Documents))})
			}
		}, []string{"documents: 101 documents are more than the 100 a declaration may carry"}},
		{"exporter name blank", func(d *D) { d.Exporter.Name = "  " }, []string{"exporter.name: missing"}},
		{"exporter code missing", func(d *D) { d.Exporter.Code = "" },
			[]string{"exporter.code: missing: the exporter's customs registration code is required"}},
		{"exporter code short", func(d *D) { d.Exporter.Code = "33029601" },
			[]string{`exporter.code: "33029601" is not a customs registration code of 10 letters or digits`}},
		{"exporter code with a dash", func(d *D) { d.Exporter.Code = "3302-96012" },
			[]string{`exporter.code: "3302-96012" is not a customs registration code of 10 letters or digits`}},
		{"exporter country missing", func(d *D) { d.Exporter.Country = "" }, []string{"exporter.country: missing"}},
		{"exporter country unknown", func(d *D) { d.Exporter.Country = "XX" },
			[]string{`exporter.country: "XX" is not an ISO 3166-1 alpha-2 country code`}},
		{"exporter country in lower case", func(d *D) { d.Exporter.Country = "cn" },
			[]string{`exporter.country: "cn" is not an ISO 3166-1 alpha-2 country code: write it in capitals, "CN"`}},
		{"exporter country alpha-3", func(d *D) { d.Exporter.Country = "CHN" },
			[]string{`exporter.country: "CHN" is not an ISO 3166-1 alpha-2 country code`}},

		{"manufacturer name missing", func(d *D) { d.Manufacturer.Name = "" }, []string{"manufacturer.name: missing"}},
		{"manufacturer country missing", func(d *D) { d.Manufacturer.Country = "" }, []string{"manufacturer.country: missing"}},
		{"manufacturer country reserved", func(d *D) { d.Manufacturer.Country = "UK" },
			[]string{`manufacturer.country: "UK" is not an ISO 3166-1 alpha-2 country code`}},
		{"consignee name missing", func(d *D) { d.Consignee.Name = "" }, []string{"consignee.name: missing"}},
		{"consignee country missing", func(d *D) { d.Consignee.Country = "" }, []string{"consignee.country: missing"}},

		{"destination missing", func(d *D) { d.Destination = "" }, []string{"destination: missing"}},
		{"destination unknown", func(d *D) { d.Destination = "ZZ" },
			[]string{`destination: "ZZ" is not an ISO 3166-1 alpha-2 country code`}},
		{"destination in lower case", func(d *D) { d.Destination = "us" },
			[]string{`destination: "us" is not an ISO 3166-1 alpha-2 country code: write it in capitals, "US"`}},
		{"destination is the exporter's country", func(d *D) { d.Destination = "CN" },
			[]string{`destination: "CN" is the exporter's country; an export must leave it`}},

		{"transport missing", func(d *D) { d.Transport = "" }, []string{"transport: missing"}},
		{"transport unknown", func(d *D) { d.Transport = "ship" },
			[]string{`transport: "ship" is not a transport mode (air, sea, rail, road)`}},

		{"no lines", func(d *D) { d.Lines, d.Certificates, d.Documents = nil, nil, nil },
			[]string{"lines: at least one goods line is required"}},
		{"line id missing", func(d *D) { d.Lines[1].ID = " " }, []string{
			"lines[1].id: missing",
			`certificates[0].lines[1]: "2" is not the id of a goods line`,
			`certificates[1].lines[0]: "2" is not the id of a goods line`,
			`documents[2].lines[1]: "2" is not the id of a goods line`}},
		{"line id twice", func(d *D) {
			d.Lines = append(d.Lines, d.Lines[0])
		}, []string{`lines[2].id: "1" is also the id of lines[0]`}},

		{"hsCode missing", func(d *D) { d.Lines[0].HSCode = "" }, []string{"lines[0].hsCode: missing"}},
		{"hsCode of five digits", func(d *D) { d.Lines[1].HSCode = "30021" },
			[]string{`lines[1].hsCode: "30021" is not a 6-10 digit HS code`}},
		{"hsCode of eleven digits", func(d *D) { d.Lines[0].HSCode = "6307.90.98450" },
			[]string{`lines[0].hsCode: "6307.90.98450" is not a 6-10 digit HS code`}},
		{"hsCode with two dots in a row", func(d *D) { d.Lines[0].HSCode = "6307..90" },
			[]string{`lines[0].hsCode: "6307..90" is not a 6-10 digit HS code`}},
		{"hsCode with a leading dot", func(d *D) { d.Lines[0].HSCode = ".630790" },
			[]string{`lines[0].hsCode: ".630790" is not a 6-10 digit HS code`}},
		{"hsCode with a space", func(d *D) { d.Lines[0].HSCode = "6307 90" },
			[]string{`lines[0].hsCode: "6307 90" is not a 6-10 digit HS code`}},
		{"hsCode with a letter", func(d *D) { d.Lines[0].HSCode = "6307.9X" },
			[]string{`lines[0].hsCode: "6307.9X" is not a 6-10 digit HS code`}},
		{"description missing", func(d *D) { d.Lines[0].Description = "" }, []string{"lines[0].description: missing"}},
		{"quantity zero", func(d *D) { d.Lines[0].Quantity = 0 }, []string{"lines[0].quantity: must be positive, not 0"}},
		{"quantity negative", func(d *D) { d.Lines[1].Quantity = -5 }, []string{"lines[1].quantity: must be positive, not -5"}},
		{"unit missing", func(d *D) { d.Lines[0].Unit = "" }, []string{"lines[0].unit: missing"}},
		{"value zero", func(d *D) { d.Lines[0].Value = 0 }, []string{"lines[0].value: must be positive, not 0"}},
		{"currency missing", func(d *D) { d.Lines[0].Currency = "" }, []string{"lines[0].currency: missing"}},
		{"currency unknown", func(d *D) { d.Lines[0].Currency = "XYZ" },
			[]string{`lines[0].currency: "XYZ" is not an ISO 4217 currency code`}},
		{"currency in lower case", func(d *D) { d.Lines[0].Currency = "usd" },
			[]string{`lines[0].currency: "usd" is not an ISO 4217 currency code: write it in capitals, "USD"`}},
		{"category missing", func(d *D) { d.Lines[0].Category = "" }, []string{"lines[0].category: missing"}},
		{"category unknown", func(d *D) { d.Lines[0].Category = "mask" },
			[]string{`lines[0].category: "mask" is not a product category`}},
		{"vaccine not marked biological", func(d *D) { d.Lines[0].Category = declaration.CategoryVaccine },
			[]string{"lines[0].biological: a vaccine line is a biological product and must be marked biological"}},
		{"tissue not marked biological", func(d *D) { d.Lines[1].Category = declaration.CategoryTissue },
			[]string{"lines[1].biological: a tissue line is a biological product and must be marked biological"}},
		{"device class unknown", func(d *D) { d.Lines[0].DeviceClass = "IV" },
			[]string{`lines[0].deviceClass: "IV" is not a device class (I, IIa, IIb, III)`}},
		{"biological without risk class", func(d *D) { d.Lines[0].Biological = true },
			[]string{"lines[0].riskClass: missing: a biological product needs its risk class (A to D)"}},
		{"biological with risk class E", func(d *D) { d.Lines[0].Biological, d.Lines[0].RiskClass = true, "E" },
			[]string{`lines[0].riskClass: "E" is not a risk class (A, B, C, D)`}},
		{"risk class on a non-biological line", func(d *D) { d.Lines[0].RiskClass = declaration.RiskA },
			[]string{"lines[0].riskClass: only a biological product has a risk class"}},

		{"certificate scheme missing", func(d *D) { d.Certificates[0].Scheme = "" }, []string{"certificates[0].scheme: missing"}},
		{"certificate scheme unknown", func(d *D) { d.Certificates[1].Scheme = "ISO13485" },
			[]string{`certificates[1].scheme: "ISO13485" is not a certificate scheme`}},
		{"certificate number missing", func(d *D) { d.Certificates[0].Number = "" }, []string{"certificates[0].number: missing"}},
		{"certificate holder missing", func(d *D) { d.Certificates[0].Holder = "" }, []string{"certificates[0].holder: missing"}},
		{"certificate covers no line", func(d *D) { d.Certificates[0].Lines = nil },
			[]string{"certificates[0].lines: must name at least one goods line it covers"}},
		{"certificate names an unknown line", func(d *D) { d.Certificates[1].Lines = []string{"2", "9"} },
			[]string{`certificates[1].lines[1]: "9" is not the id of a goods line`}},
		{"certificate names a line twice", func(d *D) { d.Certificates[0].Lines = []string{"1", "2", "1"} },
			[]string{`certificates[0].lines[2]: "1" is listed more than once`}},
		{"certificate validFrom missing", func(d *D) { d.Certificates[0].ValidFrom = time.Time{} },
			[]string{"certificates[0].validFrom: missing"}},
		{"certificate validTo missing", func(d *D) { d.Certificates[0].ValidTo = time.Time{} },
			[]string{"certificates[0].validTo: missing"}},
		{"certificate validTo before validFrom", func(d *D) { d.Certificates[0].ValidTo = date(2019, 12, 31) },
			[]string{"certificates[0].validTo: 2019-12-31T00:00:00Z is not after validFrom 2020-01-01T00:00:00Z"}},
		{"certificate validTo equal to validFrom", func(d *D) { d.Certificates[0].ValidTo = d.Certificates[0].ValidFrom },
			[]string{"certificates[0].validTo: 2020-01-01T00:00:00Z is not after validFrom 2020-01-01T00:00:00Z"}},

		{"document type missing", func(d *D) { d.Documents[1].Type = "" }, []string{"documents[1].type: missing"}},
		{"document type unknown", func(d *D) { d.Documents[1].Type = "invoice" },
			[]string{`documents[1].type: "invoice" is not a document type`}},
		{"document reference missing", func(d *D) { d.Documents[0].Reference = "" }, []string{"documents[0].reference: missing"}},
		{"invoice amount negative", func(d *D) { d.Documents[0].Amount = -1 },
			[]string{"documents[0].amount: must be positive, not -1"}},
		{"invoice amount without currency", func(d *D) { d.Documents[0].Currency = "" },
			[]string{"documents[0].currency: missing: an amount needs its currency"}},
		{"invoice currency unknown", func(d *D) { d.Documents[0].Currency = "RMB" },
			[]string{`documents[0].currency: "RMB" is not an ISO 4217 currency code`}},
		{"document names an unknown line", func(d *D) { d.Documents[2].Lines = []string{"3"} },
			[]string{`documents[2].lines[0]: "3" is not the id of a goods line`}},

		{"justification too short", func(d *D) { d.Expedited.Justification = "urgent" },
			[]string{"expedited.justification: must explain the emergency in at least 20 characters, not 6"}},
		{"justification of padding", func(d *D) { d.Expedited.Justification = strings.Repeat(" ", 30) },
			[]string{"expedited.justification: must explain the emergency in at least 20 characters, not 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := validDeclaration()
			tt.mutate(&d)
			got := problemsOf(t, d.Validate())
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	d := validDeclaration()
	d.ID = ""
	d.Destination = "CN"
	d.Lines[1].HSCode = "30021"
	d.Certificates[1].Lines = []string{"7"}
	d.Expedited.Justification = "urgent"

	err := d.Validate()
	var ve *declaration.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate() = %v, want a *ValidationError", err)
	}
	want := []declaration.Problem{
		{Field: "id", Reason: "missing"},
		{Field: "destination", Reason: `"CN" is the exporter's country; an export must leave it`},
		{Field: "lines[1].hsCode", Reason: `"30021" is not a 6-10 digit HS code`},
		{Field: "certificates[1].lines[0]", Reason: `"7" is not the id of a goods line`},
		{Field: "expedited.justification", Reason: "must explain the emergency in at least 20 characters, not 6"},
	}
	if len(ve.Problems) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(ve.Problems), len(want), err)
	}
	for i := range want {
		if ve.Problems[i] != want[i] {
			t.Errorf("problem %d = %+v, want %+v", i, ve.Problems[i], want[i])
		}
	}
	wantText := `id: missing
destination: "CN" is the exporter's country; an export must leave it
lines[1].hsCode: "30021" is not a 6-10 digit HS code
certificates[1].lines[0]: "7" is not the id of a goods line
expedited.justification: must explain the emergency in at least 20 characters, not 6`
	if err.Error() != wantText {
		t.Errorf("Error() =\n%s\nwant\n%s", err.Error(), wantText)
	}
}

func TestValidateListsAtMostMaxProblems(t *testing.T) {
	d := validDeclaration()
	const n = declaration.MaxProblems + 50
	d.Lines = nil
	for i := range n {
		d.Lines = append(d.Lines, declaration.Line{ID: fmt.Sprint(i + 1), HSCode: "1", Description: "masks",
			Quantity: 1, Unit: "pcs", Value: 1, Currency: "USD", Category: declaration.CategoryFaceMask})
	}
	var ve *declaration.ValidationError
	if err := d.Validate(); !errors.As(err, &ve) {
		t.Fatalf("Validate() = %v, want a *ValidationError", err)
	}
	if len(ve.Problems) != declaration.MaxProblems || ve.Omitted != n-declaration.MaxProblems {
		t.Fatalf("got %d problems and %d omitted, want %d and %d", len(ve.Problems), ve.Omitted,
			declaration.MaxProblems, n-declaration.MaxProblems)
	}
	if !strings.HasSuffix(ve.Error(), "\nand 50 more problems") {
		t.Errorf("Error() does not end by counting the omitted problems: ...%s", ve.Error()[len(ve.Error())-60:])
	}
}

func TestPrintableEscapesWhatATerminalWouldObey(t *testing.T) {
	for in, want := range map[string]string{
		"Ningbo Kangjian":       "Ningbo Kangjian",
		"two\nlines\tand a tab": `two\nlines\tand a tab`,
		"\x1b[31mred\x1b[0m":    `\x1b[31mred\x1b[0m`,
		"NUL\x00byte":           `NUL\x00byte`,
		"abc\u202edcba":         `abc\u202edcba`,
		"bad \xff byte":         `bad \xff byte`,
		"口罩 masks":              "口罩 masks",
	} {
		if got := declaration.Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalizeHSCode(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"630790", "630790", true},
		{"6307.90", "630790", true},
		{"3002.15.00", "30021500", true},
		{"9018.90.8000", "9018908000", true},
		{"9018908000", "9018908000", true},
		{"30021", "", false},
		{"90189080001", "", false},
		{"6307.", "", false},
		{"6307..90", "", false},
		{".630790", "", false},
		{"6307-90", "", false},
		{"６３０７９０", "", false}, // full-width digits
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := declaration.NormalizeHSCode(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("NormalizeHSCode(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestCodeLists(t *testing.T) {
	countries := 0
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			if declaration.IsCountryCode(string([]rune{a, b})) {
				countries++
			}
		}
	}
	if countries != 249 {
		t.Errorf("%d country codes, want the 249 officially assigned", countries)
	}
	for _, c := range []string{"CN", "US", "DE", "GB", "HK", "MO", "TW", "SS", "BQ"} {
		if !declaration.IsCountryCode(c) {
			t.Errorf("IsCountryCode(%q) = false", c)
		}
	}
	for _, c := range []string{"UK", "EU", "XK", "AN", "YU", "cn", "C", "CHN"} {
		if declaration.IsCountryCode(c) {
			t.Errorf("IsCountryCode(%q) = true", c)
		}
	}
	for _, c := range []string{"CNY", "USD", "EUR", "GBP", "JPY", "CHF", "HKD", "KRW", "AUD", "CAD", "SGD", "INR", "BRL", "RUB"} {
		if !declaration.IsCurrencyCode(c) {
			t.Errorf("IsCurrencyCode(%q) = false", c)
		}
	}
	for _, c := range []string{"RMB", "XAU", "XDR", "HRK", "usd", "US", "USDT"} {
		if declaration.IsCurrencyCode(c) {
			t.Errorf("IsCurrencyCode(%q) = true", c)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	small := validDeclaration()
	large := validDeclaration()
	for i := 3; i <= 200; i++ {
		l := large.Lines[i%2]
		l.ID = fmt.Sprint(i)
		large.Lines = append(large.Lines, l)
		large.Certificates[0].Lines = append(large.Certificates[0].Lines, l.ID)
	}
	for _, bc := range []struct {
		name string
		d    declaration.Declaration
	}{{"2 lines", small}, {"200 lines", large}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.d.Validate(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
