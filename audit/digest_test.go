package audit

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"google.golang.org/protobuf/proto"

	"github.com/medsupply/customs/audit/audittest"
)

// shorthandEnums rewrites enum values to the older camel-case form ("WorkflowExecutionStarted",
// "Normal") that earlier Web UI and tctl downloads used.
func shorthandEnums(b []byte) []byte {
	prefixes := map[string]string{"eventType": "EVENT_TYPE_", "kind": "TASK_QUEUE_KIND_"}
	re := regexp.MustCompile(`"(eventType|kind)":\s*"([A-Z_]+)"`)
	return re.ReplaceAllFunc(b, func(m []byte) []byte {
		sub := re.FindSubmatch(m)
		name := strings.TrimPrefix(string(sub[2]), prefixes[string(sub[1])])
		var camel strings.Builder
		for _, w := range strings.Split(name, "_") {
			camel.WriteString(w[:1] + strings.ToLower(w[1:]))
		}
		return []byte(`"` + string(sub[1]) + `":"` + camel.String() + `"`)
	})
}

// spaced respaces the joints between an archive's batches, as an indenting writer would.
func spaced(b []byte) []byte {
	for _, j := range batchJoints {
		b = bytes.ReplaceAll(b, j, []byte("] }\n, { \"events\" : ["))
	}
	return b
}

// TestDigestDoesNotDependOnTheJSONForm reads one history in every form it reaches an auditor in,
// and gets one digest.
func TestDigestDoesNotDependOnTheJSONForm(t *testing.T) {
	for _, name := range []string{"green-release", "escalation", "signal-decision"} {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(goldenDir, name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			h := golden(t, name)
			want, err := Digest(h)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) != 64 {
				t.Fatalf("digest %q is not hex SHA-256", want)
			}

			var compact bytes.Buffer
			if err := json.Compact(&compact, raw); err != nil {
				t.Fatal(err)
			}
			var doc struct{ Events json.RawMessage }
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			// The proto-JSON as the Temporal API's own marshaller writes it (the CLI's and the
			// UI server's), and the proto binary as the server sends it over gRPC.
			apiJSON, err := temporalproto.CustomJSONMarshalOptions{Indent: "\t"}.Marshal(h)
			if err != nil {
				t.Fatal(err)
			}
			wire, err := proto.Marshal(h)
			if err != nil {
				t.Fatal(err)
			}
			forms := map[string][]byte{
				"compact":         compact.Bytes(),
				"camel-case enum": shorthandEnums(raw),
				"bare array":      doc.Events,
				"API marshaller":  apiJSON,
				"CRLF":            bytes.ReplaceAll(raw, []byte("\n"), []byte("\r\n")),
				"server archive":  audittest.ArchiveForm(t, h),
				"archive, spaced": spaced(audittest.ArchiveForm(t, h)),
			}
			if bytes.Equal(forms["camel-case enum"], raw) || !bytes.Contains(forms["camel-case enum"], []byte(`"eventType":"WorkflowExecutionStarted"`)) {
				t.Fatal("the camel-case form did not rewrite the enums")
			}
			for form, b := range forms {
				got, err := ReadHistory(bytes.NewReader(b), form)
				if err != nil {
					t.Fatalf("%s: %v", form, err)
				}
				if d, err := Digest(got); err != nil || d != want {
					t.Errorf("%s: digest %s (%v), want %s", form, d, err, want)
				}
			}
			fromWire := &historypb.History{}
			if err := proto.Unmarshal(wire, fromWire); err != nil {
				t.Fatal(err)
			}
			if d, err := Digest(fromWire); err != nil || d != want {
				t.Errorf("gRPC binary: digest %s (%v), want %s", d, err, want)
			}

			// Writing the history back gives the same file, byte for byte.
			again, err := MarshalHistoryJSON(h)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, raw) {
				t.Error("MarshalHistoryJSON does not reproduce the golden file")
			}
		})
	}
}

func TestDigestChangesWithAnyEvent(t *testing.T) {
	h := golden(t, "reject")
	want, err := Digest(h)
	if err != nil {
		t.Fatal(err)
	}
	h.Events[3].TaskId++
	if got, _ := Digest(h); got == want {
		t.Error("a changed event left the digest unchanged")
	}
}

func TestDigestIgnoresUnknownFields(t *testing.T) {
	h := golden(t, "reject")
	want, err := Digest(h)
	if err != nil {
		t.Fatal(err)
	}
	// A field number no version of the API uses, as a newer server could send.
	h.Events[0].ProtoReflect().SetUnknown([]byte{0xf8, 0xff, 0x3f, 0x01})
	if got, _ := Digest(h); got != want {
		t.Errorf("digest %s with an unknown field, want %s", got, want)
	}
	if len(h.Events[0].ProtoReflect().GetUnknown()) == 0 {
		t.Error("Digest changed the history it was given")
	}
}

// TestReplayLeavesTheHistoryAlone guards the digest: the SDK's replayer merges search attribute
// and memo upserts into the start event of the history it replays. Every golden history, of this
// release and the earlier ones, keeps its digest through a replay and a trail.
func TestReplayLeavesTheHistoryAlone(t *testing.T) {
	for _, f := range append(goldenFiles(t), continuedFiles(t)...) {
		h, err := ReadHistoryFile(f)
		if err != nil {
			t.Fatal(err)
		}
		before, err := Digest(h)
		if err != nil {
			t.Fatal(err)
		}
		if err := Replay(h, Converters{}); err != nil {
			t.Fatal(err)
		}
		if _, err := BuildTrail(h, Converters{}); err != nil {
			t.Fatal(err)
		}
		if after, _ := Digest(h); after != before {
			t.Errorf("%s: replay changed the history: digest %s, was %s", f, after, before)
		}
	}
}
