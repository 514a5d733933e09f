package workflows

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
)

// TestCarriedRoundTripsWhole: every field of the clearance's state, set, survives the trip to the
// next run through the data converter as a continue-as-new's input: a field that the converter
// drops (unexported, without a JSON name, or of a type that does not round-trip) fails here.
func TestCarriedRoundTripsWhole(t *testing.T) {
	var k Carried
	fill(t, reflect.ValueOf(&k).Elem(), "Carried")
	pl, err := converter.GetDefaultDataConverter().ToPayloads(Input{Declaration: fixture(), Carried: &k})
	require.NoError(t, err)
	var in Input
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(pl, &in))
	require.NotNil(t, in.Carried)
	require.Equal(t, k, *in.Carried)
}

// runOnly are the clearance's fields that are not its state: the step a run is taking and the
// SDK's handles. Each says why the next run does not need it. A field added to the clearance
// belongs in Carried, or here with its reason.
var runOnly = map[string]string{
	"decl":              "the declaration is the input's own field, carried beside the state",
	"phase":             "a run continues only at a stage's checks, while it awaits an officer, or while it is held (HeldBefore), and starts there again",
	"waiting":           "rebuilt when the next run waits",
	"reason":            "an outcome: a run that has one ends, it does not continue",
	"ended":             "an outcome",
	"refusedAsLodged":   "an outcome",
	"notice":            "an outcome",
	"result":            "an outcome",
	"pending":           "a run continues only once every accepted request is taken up (AllHandlersFinished, then the run's own step)",
	"withdrawal":        "an accepted withdrawal is carried out by the run that accepted it",
	"refusedBy":         "set with withdrawal",
	"releaseInProgress": "set by the run that takes up the release stage where an earlier run stood in it, from the carried Stage",
	"decisionSignals":   "an SDK handle",
	"rosterSignals":     "an SDK handle",
	"rel":               "each run asks the workflow changes it follows anew",
	"shown":             "read again from the search attributes, which the server carries",
	"stageCtx":          "an SDK handle",
	"stageIdx":          "the last timeline entry, found again",
	"watching":          "the next run watches the allowance anew",
	"watchCancel":       "an SDK handle",
	"heldNext":          "set while the run waits for a hold, and again by the next run from the carried HeldBefore",
	"permitCalls":       "the run's own calls; the next run asks the pending permits again (askAgain)",
}

// TestClearanceKeepsItsStateInCarried: every field of the clearance is its carried state or
// declared the run's own (runOnly), so no field can be added and silently lost at a
// continuation.
func TestClearanceKeepsItsStateInCarried(t *testing.T) {
	typ := reflect.TypeOf(clearance{})
	seen := map[string]bool{}
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		if f.Anonymous && f.Type == reflect.TypeOf(Carried{}) {
			continue
		}
		seen[f.Name] = true
		if _, ok := runOnly[f.Name]; !ok {
			t.Errorf("clearance.%s is neither in Carried nor declared the run's own in runOnly", f.Name)
		}
	}
	for name := range runOnly {
		if !seen[name] {
			t.Errorf("runOnly names %s, which the clearance no longer has", name)
		}
	}
}

// fill sets every settable field under v to a value that is not its zero value, so that a field
// dropped on the way shows.
func fill(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	switch v.Type() {
	case reflect.TypeOf(time.Time{}):
		v.Set(reflect.ValueOf(time.Date(2020, 4, 1, 9, 30, 0, 0, time.UTC)))
		return
	case reflect.TypeOf(json.RawMessage(nil)):
		v.Set(reflect.ValueOf(json.RawMessage(`{"stage":"release"}`)))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(t, v.Field(i), path+"."+v.Type().Field(i).Name)
			}
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), path)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(t, s.Index(0), path+"[0]")
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(t, k, path+"[key]")
		fill(t, e, path+"[value]")
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(time.Hour))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(0.5)
	case reflect.Interface:
		// left nil: an interface does not round-trip through JSON to its type.
	default:
		t.Fatalf("%s: cannot fill a %s", path, v.Kind())
	}
}
