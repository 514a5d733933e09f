package activities

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestFileNotifier(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notifications.jsonl")
	fn, err := OpenFileNotifier(path)
	if err != nil {
		t.Fatal(err)
	}
	a := newActivities(t)
	a.Notifier = fn
	env := newEnv(t, a)
	due := time.Date(2026, 6, 6, 9, 30, 0, 0, time.UTC)
	sent := []Notification{
		{DeclarationID: "RW-2020-US-0506", ExporterCode: "4403960602", Kind: NotifyInformationRequest,
			Message: "Attach the manufacturer's quality declaration", Due: due},
		{DeclarationID: "RW-2020-US-0506", ExporterCode: "4403960602", Kind: NotifyReleased,
			Message: "Declaration RW-2020-US-0506 released", Notice: "RN-2026-00000007"},
		{DeclarationID: "HX-2020-ES-0428", ExporterCode: "4419960731", Kind: NotifyRefused,
			Message: "CE certificate ECM 2020-03-0417: 1282 is not notified under the PPE Regulation"},
	}
	for _, n := range sent {
		if _, err := env.ExecuteActivity(a.NotifyExporter, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := fn.Close(); err != nil {
		t.Fatal(err)
	}

	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(content))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q is not a JSON object: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(lines) != len(sent) {
		t.Fatalf("%d lines for %d notifications", len(lines), len(sent))
	}
	for i, n := range sent {
		m := lines[i]
		if m["declarationId"] != n.DeclarationID || m["kind"] != string(n.Kind) || m["message"] != n.Message || m["at"] == nil {
			t.Errorf("line %d = %v, want %+v", i, m, n)
		}
	}
	if lines[0]["due"] != "2026-06-06T09:30:00Z" || lines[1]["notice"] != "RN-2026-00000007" {
		t.Errorf("due and notice: %v, %v", lines[0], lines[1])
	}
	if _, ok := lines[1]["due"]; ok {
		t.Error("a notification without deadline carries one")
	}

	// Reopening appends.
	fn, err = OpenFileNotifier(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := fn.Notify(context.Background(), sent[0]); err != nil {
		t.Fatal(err)
	}
	if err := fn.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fn.Notify(context.Background(), sent[0]); err == nil {
		t.Error("a closed notifier accepted a notification")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(regexp.MustCompile("\n").FindAllIndex(b, -1)); n != len(sent)+1 {
		t.Errorf("%d lines after reopening, want %d", n, len(sent)+1)
	}
}

func TestLogNotifier(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	a := newActivities(t)
	a.Notifier = LogNotifier{Logger: zap.New(core)}
	n := Notification{DeclarationID: "NBKR-2020-000331", ExporterCode: "3302960178", Kind: NotifyReleased,
		Message: "released", Notice: "RN-2026-00000001"}
	if _, err := newEnv(t, a).ExecuteActivity(a.NotifyExporter, n); err != nil {
		t.Fatal(err)
	}
	entries := logs.FilterField(zap.String("declarationID", n.DeclarationID)).All()
	if len(entries) != 1 || entries[0].ContextMap()["notice"] != n.Notice {
		t.Fatalf("log entries = %+v", logs.All())
	}

	// Without a notifier the activity logs through the activity logger.
	b := newActivities(t)
	if _, err := newEnv(t, b).ExecuteActivity(b.NotifyExporter, n); err != nil {
		t.Fatal(err)
	}

	_, err := newEnv(t, a).ExecuteActivity(a.NotifyExporter, Notification{Kind: NotifyReleased})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != ErrInvalidDeclaration || !appErr.NonRetryable() {
		t.Errorf("err = %v, want a non-retryable %s", err, ErrInvalidDeclaration)
	}
}
