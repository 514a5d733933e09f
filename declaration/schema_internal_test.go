package declaration

import (
	"reflect"
	"strings"
	"testing"
)

// TestSchemaRulesNameFields: every rule of the schema's generator names a field of the
// declaration's types by its JSON name, so that a renamed field cannot lose its rules unseen.
func TestSchemaRulesNameFields(t *testing.T) {
	types := map[string]reflect.Type{}
	for _, v := range []any{Declaration{}, Party{}, Line{}, Certificate{}, Document{}, Expedited{}} {
		types[reflect.TypeOf(v).Name()] = reflect.TypeOf(v)
	}
	for key := range schemaRules {
		typ, field, _ := strings.Cut(key, ".")
		if _, ok := types[typ]; !ok {
			t.Errorf("rule %s: no type %s", key, typ)
			continue
		}
		if _, ok := fieldsOf(types[typ])[field]; !ok {
			t.Errorf("rule %s: %s has no field %q", key, typ, field)
		}
	}
	for typ := range typeRules {
		if _, ok := types[typ]; !ok {
			t.Errorf("type rule of %s: no such type", typ)
		}
	}
}
