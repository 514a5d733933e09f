// Package logging builds the process logger and adapts it to the Temporal SDK, so the worker,
// the tools and the SDK inside them write one stream of structured records.
package logging

import (
	"fmt"
	"os"
	"strings"

	"go.temporal.io/sdk/log"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// New returns the process logger writing to standard error at the given level (debug, info,
// warn or error), as JSON lines when json is true and as human-readable console lines otherwise.
// Records are never sampled: an audit trail must not lose lines under load.
func New(level string, json bool) (*zap.Logger, error) {
	return newLogger(zapcore.Lock(os.Stderr), level, json)
}

func newLogger(w zapcore.WriteSyncer, level string, json bool) (*zap.Logger, error) {
	lvl, err := parseLevel(level)
	if err != nil {
		return nil, err
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	encoder := zapcore.NewJSONEncoder(enc)
	if !json {
		enc.EncodeLevel = zapcore.CapitalLevelEncoder
		encoder = zapcore.NewConsoleEncoder(enc)
	}
	core := zapcore.NewCore(encoder, w, lvl)
	return zap.New(core, zap.AddCaller(), zap.AddStacktrace(zapcore.ErrorLevel)), nil
}

// parseLevel returns the zap level named by level (debug, info, warn or error; case-insensitive;
// empty means info).
func parseLevel(level string) (zapcore.Level, error) {
	switch strings.ToLower(strings.TrimSpace(level)) {
	case "debug":
		return zapcore.DebugLevel, nil
	case "", "info":
		return zapcore.InfoLevel, nil
	case "warn", "warning":
		return zapcore.WarnLevel, nil
	case "error":
		return zapcore.ErrorLevel, nil
	}
	return zapcore.InfoLevel, fmt.Errorf("unknown log level %q: want debug, info, warn or error", level)
}

// sdkLogger adapts a zap logger to the Temporal SDK's logger interfaces.
type sdkLogger struct {
	zl *zap.Logger
}

var (
	_ log.Logger          = sdkLogger{}
	_ log.WithLogger      = sdkLogger{}
	_ log.WithSkipCallers = sdkLogger{}
)

// NewSDKLogger returns zl as a Temporal SDK logger, for client.Options.Logger. The SDK's
// alternating key-value pairs become zap fields; the caller recorded is the SDK's call site, not
// this adapter.
func NewSDKLogger(zl *zap.Logger) log.Logger {
	return sdkLogger{zl: zl.WithOptions(zap.AddCallerSkip(1))}
}

func (l sdkLogger) Debug(msg string, keyvals ...any) { l.zl.Debug(msg, fields(keyvals)...) }
func (l sdkLogger) Info(msg string, keyvals ...any)  { l.zl.Info(msg, fields(keyvals)...) }
func (l sdkLogger) Warn(msg string, keyvals ...any)  { l.zl.Warn(msg, fields(keyvals)...) }
func (l sdkLogger) Error(msg string, keyvals ...any) { l.zl.Error(msg, fields(keyvals)...) }

// With returns a logger that adds keyvals to every record.
func (l sdkLogger) With(keyvals ...any) log.Logger {
	return sdkLogger{zl: l.zl.With(fields(keyvals)...)}
}

// WithCallerSkip returns a logger that skips skip more stack frames when it records the caller.
func (l sdkLogger) WithCallerSkip(skip int) log.Logger {
	return sdkLogger{zl: l.zl.WithOptions(zap.AddCallerSkip(skip))}
}

// badKey names a value that came without a key: the last of an odd number of keyvals, so a
// mistake in a log call loses no data.
const badKey = "!BADKEY"

// fields turns alternating key-value pairs into zap fields. A key that is not a string is
// formatted with %v; errors keep their structure through zap.Any.
func fields(keyvals []any) []zap.Field {
	if len(keyvals) == 0 {
		return nil
	}
	fs := make([]zap.Field, 0, (len(keyvals)+1)/2)
	for i := 0; i < len(keyvals); i += 2 {
		if i+1 == len(keyvals) {
			fs = append(fs, zap.Any(badKey, keyvals[i]))
			break
		}
		key, ok := keyvals[i].(string)
		if !ok {
			key = fmt.Sprint(keyvals[i])
		}
		fs = append(fs, zap.Any(key, keyvals[i+1]))
	}
	return fs
}
