package declaration

import (
	"fmt"
	"os"
	"reflect"
	"testing"
)

func TestDiffListsEachChangedFieldWithItsPath(t *testing.T) {
	data, err := os.ReadFile("../examples/us-n95-respirators-niosh.json")
	if err != nil {
		t.Fatal(err)
	}
	before, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := Diff(before, before); len(got) != 0 {
		t.Fatalf("a declaration against itself: %v, want no change", got)
	}
	after, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	after.Lines[0].Quantity = 120000
	after.Lines[0].Value = 13800000
	after.Documents = append(after.Documents, Document{Type: DocPackingList, Reference: "PL-2"})
	after.Certificates = nil

	got := Diff(before, after)
	want := []Change{
		{Path: "lines[0].quantity", From: "100000", To: "120000"},
		{Path: "lines[0].value", From: "11500000", To: "13800000"},
	}
	if len(got) < 4 {
		t.Fatalf("Diff = %v, want the two line fields, the certificates and the added document", got)
	}
	if !reflect.DeepEqual(got[:2], want[:2]) {
		t.Errorf("line changes = %v, want %v", got[:2], want[:2])
	}
	var certs, doc *Change
	for i := range got {
		switch got[i].Path {
		case "certificates":
			certs = &got[i]
		case fmt.Sprintf("documents[%d]", len(before.Documents)):
			doc = &got[i]
		}
	}
	if certs == nil || certs.From == "" || certs.To != "" {
		t.Errorf("removed certificates: %+v, want one change from the whole list to nothing", certs)
	}
	if doc == nil || doc.From != "" || doc.To != `{"type":"packing-list","reference":"PL-2","issued":"0001-01-01T00:00:00Z"}` {
		t.Errorf("added document: %+v, want one change to the whole new item", doc)
	}
	if again := Diff(before, after); !reflect.DeepEqual(again, got) {
		t.Errorf("Diff is not the same twice: %v then %v", got, again)
	}
}
