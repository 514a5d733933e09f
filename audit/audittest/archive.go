package audittest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// ArchiveForm writes a history as the server's filestore archival does: the events in batches,
// each the proto-JSON of a History, in one JSON array.
func ArchiveForm(t testing.TB, h *historypb.History) []byte {
	t.Helper()
	var parts [][]byte
	events := h.GetEvents()
	for i := 0; i < len(events); i += 5 {
		b, err := protojson.Marshal(&historypb.History{Events: events[i:min(i+5, len(events))]})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, b)
	}
	return append(append([]byte("["), bytes.Join(parts, []byte(","))...), ']')
}

// WriteArchived writes h into dir under name in the archive's form and returns the file's path.
func WriteArchived(t testing.TB, dir, name string, h *historypb.History) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, ArchiveForm(t, h), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Fields maps the engine's search attribute names to the fields Aliases stores them under: with
// audit.AliasSearchAttributes it turns a history into the form the server archives it in.
func Fields() map[string]string {
	fields := map[string]string{}
	for field, name := range Aliases {
		fields[name] = field
	}
	return fields
}

// Aliases maps fields to the engine's search attribute names as a namespace of the embedded
// server stores them.
var Aliases = map[string]string{
	"Bool01": "Expedited", "Bool02": "OnHold", "Bool03": "SlaBreached", "Keyword01": "ExporterCode",
	"Keyword02": "QueuePriority", "Keyword03": "ClearanceStage", "Keyword04": "DestinationCountry",
	"Keyword05": "ClearanceLane", "Keyword06": "DeclarationId", "Keyword07": "RegistrationNumber",
	"Keyword08": "ClaimedBy", "Keyword09": "ClearanceStatus", "KeywordList03": "ProductCategories",
}
