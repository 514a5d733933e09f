package agency

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuiltInRostersAreValid(t *testing.T) {
	for _, a := range Agencies {
		r, err := DefaultRoster(a)
		if err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		if r.Agency != a || len(r.Deciders()) == 0 {
			t.Errorf("%s's roster %+v", a, r)
		}
		for _, o := range r.Officers {
			if !strings.HasPrefix(o.ID, strings.ToLower(a)+"-") {
				t.Errorf("%s's officer %s does not carry the agency's prefix", a, o.ID)
			}
		}
	}
	r, _ := DefaultRoster(NMPA)
	if got := strings.Join(r.Deciders(), ","); got != "nmpa-gao,nmpa-tang" {
		t.Errorf("NMPA's permit officers %s: the clerk nmpa-qian decides nothing", got)
	}
}

func TestParseRosterRefusesWithTheField(t *testing.T) {
	cases := map[string]struct{ json, want string }{
		"an unknown field":      {`{"agency":"NMPA","officers":[{"id":"a","name":"A","roles":["permit-officer"],"grade":3}]}`, `unknown field "grade"`},
		"data after the object": {`{"agency":"NMPA","officers":[{"id":"a","name":"A","roles":["permit-officer"]}]} {}`, "data after the JSON object"},
		"no agency":             {`{"officers":[{"id":"a","name":"A","roles":["permit-officer"]}]}`, "agency: missing"},
		"no officer ID":         {`{"agency":"NMPA","officers":[{"name":"A","roles":["permit-officer"]}]}`, "officers[0].id: missing"},
		"an ID with a slash":    {`{"agency":"NMPA","officers":[{"id":"a/b","name":"A","roles":["permit-officer"]}]}`, "officers[0].id:"},
		"an ID twice":           {`{"agency":"NMPA","officers":[{"id":"a","name":"A","roles":["permit-officer"]},{"id":"a","name":"B","roles":["clerk"]}]}`, `officers[1].id: "a" appears twice`},
		"a name with a control": {`{"agency":"NMPA","officers":[{"id":"a","name":"A\u0000","roles":["permit-officer"]}]}`, "officers[0].name:"},
		"no roles":              {`{"agency":"NMPA","officers":[{"id":"a","name":"A"},{"id":"b","name":"B","roles":["permit-officer"]}]}`, "officers[0].roles: missing"},
		"an unknown role":       {`{"agency":"NMPA","officers":[{"id":"a","name":"A","roles":["supervisor"]}]}`, `officers[0].roles[0]: "supervisor" is not`},
		"no one who may decide": {`{"agency":"NMPA","officers":[{"id":"a","name":"A","roles":["clerk"]}]}`, "officers: no permit-officer"},
	}
	for name, c := range cases {
		if _, err := ParseRoster([]byte(c.json)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

func TestLoadRosterIsTheAgencysOwn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roster.json")
	if err := os.WriteFile(path, []byte(`{"agency":"SAMR","officers":[{"id":"samr-x","name":"X","roles":["permit-officer"]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if r, err := LoadRoster(SAMR, path); err != nil || r.Deciders()[0] != "samr-x" {
		t.Fatalf("%+v, %v", r, err)
	}
	if _, err := LoadRoster(NMPA, path); err == nil || !strings.Contains(err.Error(), "the roster is SAMR's, not NMPA's") {
		t.Errorf("another agency's roster: %v", err)
	}
	if _, err := LoadRoster(NMPA, filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "read roster") {
		t.Errorf("a missing file: %v", err)
	}
	if r, err := LoadRoster(NMPA, ""); err != nil || r.Agency != NMPA {
		t.Errorf("the built-in roster: %+v, %v", r, err)
	}
}
