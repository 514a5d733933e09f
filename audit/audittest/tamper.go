package audittest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	historypb "go.temporal.io/api/history/v1"
)

// Tamper rewrites the JSON of the history file dir/name.json with edit and writes the result to
// a temporary file, whose path it returns.
func Tamper(t testing.TB, dir, name string, edit func(events []map[string]any)) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Events []map[string]any `json:"events"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	edit(doc.Events)
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name+"-tampered.json")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// RenameScheduledJSON renames the activity type from to to in the scheduled events of a
// history's JSON, and returns the ID of the last event it changed ("" when none).
func RenameScheduledJSON(events []map[string]any, from, to string) string {
	changed := ""
	for _, e := range events {
		a, ok := e["activityTaskScheduledEventAttributes"].(map[string]any)
		if !ok {
			continue
		}
		if at, ok := a["activityType"].(map[string]any); ok && at["name"] == from {
			at["name"] = to
			changed, _ = e["eventId"].(string)
		}
	}
	return changed
}

// RenameScheduled renames the activity type from to to in h's scheduled events, so that h no
// longer replays against the code, and returns h.
func RenameScheduled(h *historypb.History, from, to string) *historypb.History {
	for _, e := range h.GetEvents() {
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == from {
			a.ActivityType.Name = to
		}
	}
	return h
}
