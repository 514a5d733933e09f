package audit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/medsupply/customs/audit/audittest"
)

// FuzzReadHistory: whatever a file holds, ReadHistory returns a history that starts with its
// start event and numbers its events without a gap, or an *InputError naming the file; it never
// panics. The seeds are the forms an auditor meets: the Web UI's download, a bare array of events,
// and the server's archive.
func FuzzReadHistory(f *testing.F) {
	raw, err := os.ReadFile(filepath.Join(goldenDir, "green-release.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add(audittest.ArchiveForm(f, golden(f, "escalation")))
	f.Add([]byte(`[{"eventId":"1","eventType":"EVENT_TYPE_WORKFLOW_EXECUTION_STARTED","workflowExecutionStartedEventAttributes":{}}]`))
	f.Add([]byte(`[{"events":[]},{"events":null}]`))
	f.Add([]byte(`[ { "events" : 7 } ]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ReadHistory(bytes.NewReader(b), "fuzz.history")
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) || ie.Source != "fuzz.history" {
				t.Fatalf("error %v is not an InputError naming the file", err)
			}
			return
		}
		if err := checkEvents(h); err != nil {
			t.Fatalf("read a history that is not whole: %v", err)
		}
	})
}
