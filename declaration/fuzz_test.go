package declaration_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/medsupply/customs/declaration"
)

// FuzzParseAndValidate feeds arbitrary bytes to ParseAndValidate. Its seeds are in
// testdata/fuzz/FuzzParseAndValidate. It checks that nothing panics, that every rejection is a
// *ValidationError whose problems print one per line, and that an accepted declaration survives
// a round trip through encoding/json unchanged and still valid.
func FuzzParseAndValidate(f *testing.F) {
	f.Add([]byte(validJSON))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := declaration.ParseAndValidate(data)
		if err != nil {
			var ve *declaration.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is a %T, not a *ValidationError", err, err)
			}
			if len(ve.Problems) == 0 || len(ve.Problems) > declaration.MaxProblems {
				t.Fatalf("%d problems", len(ve.Problems))
			}
			for _, p := range ve.Problems {
				if p.Reason == "" {
					t.Fatalf("problem without a reason: %+v", p)
				}
				if strings.ContainsAny(p.String(), "\r\n") {
					t.Fatalf("problem spans lines: %q", p.String())
				}
			}
			lines := len(ve.Problems)
			if ve.Omitted > 0 {
				lines++
			}
			if n := strings.Count(err.Error(), "\n") + 1; n != lines {
				t.Fatalf("Error() has %d lines for %d problems", n, len(ve.Problems))
			}
			return
		}

		once, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("marshal an accepted declaration: %v", err)
		}
		again, err := declaration.ParseAndValidate(once)
		if err != nil {
			t.Fatalf("the encoding of an accepted declaration is rejected: %v\n%s", err, once)
		}
		twice, err := json.Marshal(again)
		if err != nil {
			t.Fatalf("marshal the reparsed declaration: %v", err)
		}
		if !bytes.Equal(once, twice) {
			t.Fatalf("round trip changed the declaration:\n%s\n%s", once, twice)
		}
	})
}
