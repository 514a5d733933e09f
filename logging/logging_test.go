package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"go.temporal.io/sdk/log"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func observed(t *testing.T, lvl zapcore.Level) (log.Logger, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(lvl)
	return NewSDKLogger(zap.New(core, zap.AddCaller())), logs
}

func TestSDKLoggerTurnsKeyvalsIntoFields(t *testing.T) {
	l, logs := observed(t, zapcore.DebugLevel)
	cause := errors.New("no route")

	l.Debug("polling", "taskQueue", "customs-clearance", "attempt", 3)
	l.Info("started", "declarationID", "D-1")
	l.Warn("slow", "elapsed", 1.5)
	l.Error("failed", "error", cause)

	entries := logs.AllUntimed()
	if len(entries) != 4 {
		t.Fatalf("got %d entries, want 4", len(entries))
	}
	wantLevels := []zapcore.Level{zapcore.DebugLevel, zapcore.InfoLevel, zapcore.WarnLevel, zapcore.ErrorLevel}
	for i, e := range entries {
		if e.Level != wantLevels[i] {
			t.Errorf("entry %d level = %v, want %v", i, e.Level, wantLevels[i])
		}
	}
	first := entries[0].ContextMap()
	if first["taskQueue"] != "customs-clearance" || first["attempt"] != int64(3) {
		t.Errorf("debug fields = %v", first)
	}
	if got := entries[3].ContextMap()["error"]; got != "no route" {
		t.Errorf("error field = %v, want %q", got, "no route")
	}
}

func TestSDKLoggerKeepsOddAndNonStringKeys(t *testing.T) {
	l, logs := observed(t, zapcore.InfoLevel)

	l.Info("odd", "stage", "document-check", 42, "answer", "dangling")

	fields := logs.AllUntimed()[0].ContextMap()
	if fields["stage"] != "document-check" {
		t.Errorf("stage = %v", fields["stage"])
	}
	if fields["42"] != "answer" {
		t.Errorf("non-string key: fields = %v", fields)
	}
	if fields[badKey] != "dangling" {
		t.Errorf("dangling value: fields = %v", fields)
	}
}

func TestSDKLoggerWithAddsFieldsWithoutMutating(t *testing.T) {
	l, logs := observed(t, zapcore.InfoLevel)

	child := l.(log.WithLogger).With("officer", "o-7")
	child.Info("decided", "stage", "biological-review")
	l.Info("plain")

	entries := logs.AllUntimed()
	got := entries[0].ContextMap()
	if got["officer"] != "o-7" || got["stage"] != "biological-review" {
		t.Errorf("child fields = %v", got)
	}
	if _, ok := entries[1].ContextMap()["officer"]; ok {
		t.Error("With mutated the parent logger")
	}
}

func TestSDKLoggerRecordsCallSite(t *testing.T) {
	l, logs := observed(t, zapcore.InfoLevel)

	_, _, line, _ := runtime.Caller(0)
	l.Info("here")
	helper(l.(log.WithSkipCallers).WithCallerSkip(1))

	entries := logs.AllUntimed()
	for i, e := range entries {
		if !e.Caller.Defined || filepath.Base(e.Caller.File) != "logging_test.go" || e.Caller.Line != line+1+i {
			t.Errorf("entry %d caller = %v, want logging_test.go:%d", i, e.Caller, line+1+i)
		}
	}
}

func helper(l log.Logger) {
	l.Info("from helper")
}

func TestSDKLoggerRespectsLevel(t *testing.T) {
	l, logs := observed(t, zapcore.WarnLevel)
	l.Debug("d")
	l.Info("i")
	l.Warn("w")
	if logs.Len() != 1 {
		t.Fatalf("got %d entries, want only the warning", logs.Len())
	}
}

func TestNewJSON(t *testing.T) {
	var buf bytes.Buffer
	zl, err := newLogger(zapcore.AddSync(&buf), "warn", true)
	if err != nil {
		t.Fatal(err)
	}
	zl.Info("hidden")
	zl.Warn("shown", zap.String("declarationID", "D-9"))

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1: %q", len(lines), buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatalf("not JSON: %v: %q", err, lines[0])
	}
	if rec["msg"] != "shown" || rec["level"] != "warn" || rec["declarationID"] != "D-9" {
		t.Errorf("record = %v", rec)
	}
}

func TestNewConsole(t *testing.T) {
	var buf bytes.Buffer
	zl, err := newLogger(zapcore.AddSync(&buf), "DEBUG", false)
	if err != nil {
		t.Fatal(err)
	}
	zl.Debug("visible", zap.String("stage", "s1"))
	out := buf.String()
	if !strings.Contains(out, "DEBUG") || !strings.Contains(out, "visible") || !strings.Contains(out, `"stage": "s1"`) {
		t.Errorf("console line = %q", out)
	}
	if json.Valid([]byte(strings.TrimSpace(out))) {
		t.Errorf("console output is JSON: %q", out)
	}
}

func TestNewRejectsUnknownLevel(t *testing.T) {
	if _, err := New("verbose", false); err == nil || !strings.Contains(err.Error(), "verbose") {
		t.Fatalf("New(verbose) error = %v, want one naming the level", err)
	}
}
