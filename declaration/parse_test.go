package declaration_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/medsupply/customs/declaration"
)

// validJSON is a declaration as an exporter lodges it, with plain dates and an RFC 3339 time.
const validJSON = `{
  "id": "NB-2020-0401-007",
  "exporter": {"name": "Ningbo Kangjian Medical Supplies Co., Ltd.", "code": "3302960123", "country": "CN"},
  "manufacturer": {"name": "Ningbo Kangjian Medical Supplies Co., Ltd.", "country": "CN"},
  "consignee": {"name": "Bayside Medical Distribution LLC", "country": "US"},
  "destination": "US",
  "transport": "air",
  "lines": [
    {"id": "1", "hsCode": "6307.90", "description": "Medical face masks", "quantity": 500000, "unit": "pcs",
     "value": 25000000, "currency": "USD", "category": "medical-mask"},
    {"id": "2", "hsCode": "3822.00", "description": "COVID-19 antibody test kits", "quantity": 20000, "unit": "kits",
     "value": 9000000, "currency": "USD", "category": "test-kit", "biological": true, "riskClass": "C"}
  ],
  "certificates": [
    {"scheme": "FDA-EUA", "number": "EUA200123", "holder": "Ningbo Kangjian Medical Supplies Co., Ltd.",
     "lines": ["2"], "validFrom": "2020-04-01", "validTo": "2021-04-01T00:00:00+08:00"}
  ],
  "documents": [
    {"type": "commercial-invoice", "reference": "INV-7", "issued": "2020-04-01", "amount": 34000000, "currency": "USD"}
  ],
  "expedited": {"justification": "Antibody test kits for the US COVID-19 response"}
}`

// withField returns validJSON with a replacement made once.
func withField(t *testing.T, old, new string) []byte {
	t.Helper()
	if strings.Count(validJSON, old) != 1 {
		t.Fatalf("%q does not occur exactly once in validJSON", old)
	}
	return []byte(strings.Replace(validJSON, old, new, 1))
}

func TestParseValid(t *testing.T) {
	d, err := declaration.ParseAndValidate([]byte(validJSON))
	if err != nil {
		t.Fatalf("ParseAndValidate: %v", err)
	}
	if d.ID != "NB-2020-0401-007" || len(d.Lines) != 2 || d.Lines[1].RiskClass != declaration.RiskC ||
		!d.Lines[1].Biological || d.Lines[0].Value != 25000000 || d.Expedited == nil {
		t.Errorf("decoded %+v", d)
	}
	c := d.Certificates[0]
	if want := time.Date(2020, 4, 1, 0, 0, 0, 0, time.UTC); !c.ValidFrom.Equal(want) || c.ValidFrom.Location() != time.UTC {
		t.Errorf("validFrom = %v, want %v: a plain date is midnight UTC", c.ValidFrom, want)
	}
	if want := time.Date(2021, 3, 31, 16, 0, 0, 0, time.UTC); !c.ValidTo.Equal(want) {
		t.Errorf("validTo = %v, want %v", c.ValidTo, want)
	}
	if want := time.Date(2020, 4, 1, 0, 0, 0, 0, time.UTC); !d.Documents[0].Issued.Equal(want) {
		t.Errorf("issued = %v, want %v", d.Documents[0].Issued, want)
	}
}

// TestParseRoundTrip checks that what encoding/json writes from a Declaration, with every field
// set, parses back to the same value: the parser knows every field and type of the model.
func TestParseRoundTrip(t *testing.T) {
	d := validDeclaration()
	d.Lines[0].DeviceClass = declaration.DeviceClassIIa
	d.Lines[0].Sterile = true
	d.Lines[0].Measuring = true
	d.Lines[1].Biological = true
	d.Lines[1].RiskClass = declaration.RiskB
	d.Certificates[0].Issuer = "0123"
	d.Certificates[0].Regulation = "MDR"
	d.Consignee.Code = "US-99"
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	got, err := declaration.Parse(b)
	if err != nil {
		t.Fatalf("Parse(%s): %v", b, err)
	}
	if !reflect.DeepEqual(got, d) {
		t.Errorf("round trip changed the declaration:\n got %+v\nwant %+v", got, d)
	}
}

func TestParseProblems(t *testing.T) {
	secondComma := strings.Index(validJSON, `"transport": "air",`) + len(`"transport": "air",`)
	badByte := strings.Index(validJSON, `"Medical face masks"`) + len(`"Medical face masks `)
	tests := []struct {
		name string
		in   []byte
		want []string
	}{
		{"unknown field in a line", withField(t, `"unit": "pcs",`, `"unit": "pcs", "colour": "blue",`),
			[]string{"lines[0].colour: unknown field"}},
		{"unknown top-level field", withField(t, `"transport": "air",`, `"transport": "air", "notes": {"a": [1, 2]},`),
			[]string{"notes: unknown field"}},
		{"unknown field in a party", withField(t, `"code": "3302960123",`, `"code": "3302960123", "vat": "x",`),
			[]string{"exporter.vat: unknown field"}},
		{"unknown field with an odd name", withField(t, `"unit": "pcs",`, `"unit": "pcs", "a b\n": 1,`),
			[]string{`lines[0]."a b\n": unknown field`}},
		{"field name in the wrong case", withField(t, `"id": "NB`, `"ID": "NB`),
			[]string{"ID: unknown field"}},
		{"field twice", withField(t, `"destination": "US",`, `"destination": "US", "destination": "DE",`),
			[]string{"destination: appears more than once"}},
		{"string for a number", withField(t, `"quantity": 500000`, `"quantity": "500000"`),
			[]string{"lines[0].quantity: must be a whole number, not a string"}},
		{"object for a list", withField(t, "\"lines\": [\n", "\"lines\": {\"x\": [1]}, \"linez\": [\n"),
			[]string{"lines: must be a list, not an object", "linez: unknown field"}},
		{"null for a string", withField(t, `"transport": "air"`, `"transport": null`),
			[]string{"transport: must be a string, not null"}},
		{"string for a boolean", withField(t, `"biological": true`, `"biological": "yes"`),
			[]string{"lines[1].biological: must be true or false, not a string"}},
		{"string for an object", withField(t, `"consignee": {"name": "Bayside Medical Distribution LLC", "country": "US"}`, `"consignee": "Bayside"`),
			[]string{"consignee: must be an object, not a string"}},
		{"number for a time", withField(t, `"issued": "2020-04-01"`, `"issued": 20200401`),
			[]string{"documents[0].issued: must be a time, not a number"}},
		{"time in another form", withField(t, `"validFrom": "2020-04-01"`, `"validFrom": "01/04/2020"`),
			[]string{`certificates[0].validFrom: "01/04/2020" is neither an RFC 3339 time such as 2020-04-01T08:00:00+08:00 nor a date such as 2020-04-01`}},
		{"date that does not exist", withField(t, `"validFrom": "2020-04-01"`, `"validFrom": "2020-02-30"`),
			[]string{`certificates[0].validFrom: "2020-02-30" is neither an RFC 3339 time such as 2020-04-01T08:00:00+08:00 nor a date such as 2020-04-01`}},
		{"time without a zone", withField(t, `"validTo": "2021-04-01T00:00:00+08:00"`, `"validTo": "2021-04-01T00:00:00"`),
			[]string{`certificates[0].validTo: "2021-04-01T00:00:00" is neither an RFC 3339 time such as 2020-04-01T08:00:00+08:00 nor a date such as 2020-04-01`}},
		{"number above int64", withField(t, `"quantity": 500000`, `"quantity": 9223372036854775808`),
			[]string{"lines[0].quantity: 9223372036854775808 does not fit in a 64-bit integer"}},
		{"number below int64", withField(t, `"value": 9000000`, `"value": -9223372036854775809`),
			[]string{"lines[1].value: -9223372036854775809 does not fit in a 64-bit integer"}},
		{"number with an exponent beyond int64", withField(t, `"amount": 34000000`, `"amount": 1e30`),
			[]string{"documents[0].amount: 1e30 does not fit in a 64-bit integer"}},
		{"number beyond float64", withField(t, `"amount": 34000000`, `"amount": -1e400`),
			[]string{"documents[0].amount: -1e400 does not fit in a 64-bit integer"}},
		{"number with a fraction", withField(t, `"quantity": 500000`, `"quantity": 1.5`),
			[]string{"lines[0].quantity: must be a whole number written in digits, not 1.5"}},
		{"whole number with an exponent", withField(t, `"quantity": 500000`, `"quantity": 5e5`),
			[]string{"lines[0].quantity: must be a whole number written in digits, not 5e5"}},
		{"huge number", withField(t, `"quantity": 500000`, `"quantity": `+strings.Repeat("9", 100000)),
			[]string{"lines[0].quantity: " + strings.Repeat("9", 64) + "… does not fit in a 64-bit integer"}},
		{"several problems", withField(t, `"unit": "pcs",`, `"unit": 7, "colour": "blue", "quantity": 1e99,`),
			[]string{"lines[0].unit: must be a string, not a number", "lines[0].colour: unknown field",
				"lines[0].quantity: appears more than once"}},

		{"empty input", []byte(""), []string{"no declaration: the input is empty"}},
		{"white space only", []byte(" \n\t"), []string{"no declaration: the input is empty"}},
		{"null", []byte("null"), []string{"the declaration must be an object, not null"}},
		{"list", []byte("[]"), []string{"the declaration must be an object, not a list"}},
		{"truncated", []byte(validJSON[:200]), []string{"manufacturer.name: invalid JSON: the input ends early"}},
		{"trailing comma", withField(t, `"transport": "air",`, `"transport": "air",,`),
			[]string{fmt.Sprintf("invalid JSON near byte %d: invalid character ',' looking for beginning of object key string", secondComma)}},
		{"trailing object", []byte(validJSON + "{}"),
			[]string{fmt.Sprintf("unexpected data after the declaration at byte %d", len(validJSON))}},
		{"trailing garbage", []byte(validJSON + "\n x"),
			[]string{fmt.Sprintf("unexpected data after the declaration at byte %d", len(validJSON)+2)}},
		{"byte order mark", append([]byte("\xef\xbb\xbf"), validJSON...),
			[]string{"invalid JSON near byte 1: invalid character 'ï' looking for beginning of value"}},
		{"invalid UTF-8", withField(t, `"Medical face masks"`, "\"Medical face masks \xff\""),
			[]string{fmt.Sprintf("invalid UTF-8 at byte %d", badByte)}},
		{"overlong UTF-8 encoding", withField(t, `"Medical face masks"`, "\"Medical face masks \xc0\xaf\""),
			[]string{fmt.Sprintf("invalid UTF-8 at byte %d", badByte)}},
		{"UTF-16 surrogate half", withField(t, `"Medical face masks"`, "\"Medical face masks \xed\xa0\x80\""),
			[]string{fmt.Sprintf("invalid UTF-8 at byte %d", badByte)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := declaration.Parse(tt.in)
			got := problemsOf(t, err)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if !reflect.DeepEqual(d, declaration.Declaration{}) {
				t.Errorf("Parse returned %+v with its error, want the zero Declaration", d)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	pad := func(n int) []byte {
		b := []byte(validJSON)
		return append(b, bytes.Repeat([]byte(" "), n-len(b))...)
	}
	if _, err := declaration.Parse(pad(declaration.MaxSize)); err != nil {
		t.Errorf("a declaration of exactly MaxSize bytes: %v", err)
	}
	_, err := declaration.Parse(pad(declaration.MaxSize + 1))
	got := problemsOf(t, err)
	want := "the declaration is 1048577 bytes, more than the limit of 1048576"
	if len(got) != 1 || got[0] != want {
		t.Errorf("problems %q, want %q", got, want)
	}
}

func TestParseDeepNesting(t *testing.T) {
	deep := func(prefix string, n int, suffix string) []byte {
		return []byte(prefix + strings.Repeat("[", n) + strings.Repeat("]", n) + suffix)
	}
	tests := []struct {
		name string
		in   []byte
		want []string
	}{
		{"under an unknown field", deep(`{"x":`, 500000, `}`),
			[]string{"x: unknown field", "nested more than 16 levels deep at byte 20"}},
		{"in place of a string", deep(`{"id":`, 500000, `}`),
			[]string{"id: must be a string, not a list", "nested more than 16 levels deep at byte 21"}},
		{"in place of a line", deep(`{"lines":`, 500000, `}`),
			[]string{"lines[0]: must be an object, not a list", "nested more than 16 levels deep at byte 24"}},
		{"at the top", deep(``, 500000, ``),
			[]string{"the declaration must be an object, not a list", "nested more than 16 levels deep at byte 16"}}, // the 17th '['
		{"unclosed", []byte(`{"notes":` + strings.Repeat(`{"a":`, 150000)),
			[]string{"notes: unknown field", "nested more than 16 levels deep at byte 84"}},
		{"just at the bound", deep(`{"x":`, 15, `}`),
			[]string{"x: unknown field"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.in) > declaration.MaxSize {
				t.Fatalf("input of %d bytes is over MaxSize: it would not reach the nesting check", len(tt.in))
			}
			_, err := declaration.Parse(tt.in)
			got := problemsOf(t, err)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestParseAndValidate(t *testing.T) {
	t.Run("parse failure", func(t *testing.T) {
		d, err := declaration.ParseAndValidate(withField(t, `"unit": "pcs",`, `"unit": "pcs", "colour": "blue",`))
		if got := problemsOf(t, err); len(got) != 1 || got[0] != "lines[0].colour: unknown field" {
			t.Errorf("problems %q", got)
		}
		if d.ID != "" {
			t.Errorf("returned a declaration with its parse error: %+v", d)
		}
	})
	t.Run("validation failure keeps the declaration", func(t *testing.T) {
		d, err := declaration.ParseAndValidate(withField(t, `"hsCode": "6307.90"`, `"hsCode": "30021"`))
		if got := problemsOf(t, err); len(got) != 1 || got[0] != `lines[0].hsCode: "30021" is not a 6-10 digit HS code` {
			t.Errorf("problems %q", got)
		}
		if d.ID != "NB-2020-0401-007" {
			t.Errorf("declaration ID %q, want the decoded one", d.ID)
		}
	})
}

// TestExamples checks the example declarations in examples/: every one is valid but those whose
// name starts with "invalid-".
func TestExamples(t *testing.T) {
	dir := filepath.Join("..", "examples")
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		t.Skip("no examples directory")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("examples/ holds no .json file")
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = declaration.ParseAndValidate(b)
			if strings.HasPrefix(name, "invalid-") {
				if err == nil {
					t.Fatal("valid, want at least one problem")
				}
				t.Logf("problems:\n%v", err)
				problemsOf(t, err)
				return
			}
			if err != nil {
				t.Fatalf("problems:\n%v", err)
			}
		})
	}
}
