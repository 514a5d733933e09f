package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"
)

// Notifier tells an exporter about their declaration. Delivery is at least once: a retried
// activity may deliver a notification twice, so receivers key on declaration ID and kind (and
// notice number, for a release).
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// NotifyExporter tells the exporter through the configured Notifier, or logs the notification
// when none is. A notification without declaration ID or kind is a non-retryable
// ErrInvalidDeclaration; a Notifier's failure is a plain error and is retried.
func (a *Activities) NotifyExporter(ctx context.Context, n Notification) error {
	if strings.TrimSpace(n.DeclarationID) == "" || n.Kind == "" {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("notification %q for declaration %q needs a declaration ID and a kind", n.Kind, n.DeclarationID),
			ErrInvalidDeclaration, nil)
	}
	var notifier Notifier = LogNotifier{}
	if a.Notifier != nil {
		notifier = a.Notifier
	}
	if err := notifier.Notify(ctx, n); err != nil {
		return fmt.Errorf("notify exporter %s of %s: %w", n.ExporterCode, n.Kind, err)
	}
	return nil
}

// LogNotifier writes notifications to a log: to Logger when it is set, otherwise to the
// activity's logger (or zap's global logger outside an activity).
type LogNotifier struct {
	Logger *zap.Logger
}

// Notify implements Notifier.
func (l LogNotifier) Notify(ctx context.Context, n Notification) error {
	const msg = "exporter notified"
	switch {
	case l.Logger != nil:
		fields := []zap.Field{zap.String("declarationID", n.DeclarationID), zap.String("exporterCode", n.ExporterCode),
			zap.String("kind", string(n.Kind)), zap.String("message", n.Message)}
		if n.Notice != "" {
			fields = append(fields, zap.String("notice", n.Notice))
		}
		if !n.Due.IsZero() {
			fields = append(fields, zap.Time("due", n.Due))
		}
		l.Logger.Info(msg, fields...)
	case activity.IsActivity(ctx):
		kv := []any{"declarationID", n.DeclarationID, "exporterCode", n.ExporterCode, "kind", n.Kind, "message", n.Message}
		if n.Notice != "" {
			kv = append(kv, "notice", n.Notice)
		}
		if !n.Due.IsZero() {
			kv = append(kv, "due", n.Due)
		}
		activity.GetLogger(ctx).Info(msg, kv...)
	default:
		zap.L().Info(msg, zap.String("declarationID", n.DeclarationID), zap.String("kind", string(n.Kind)),
			zap.String("message", n.Message))
	}
	return nil
}

// FileNotifier appends each notification to a file as one JSON object on a line of its
// own, for an exporter portal or a mail gateway to pick up. It is safe for concurrent use.
type FileNotifier struct {
	mu   sync.Mutex
	f    *os.File
	path string
	now  func() time.Time
}

// notificationLine is the JSON form of one line of the file.
type notificationLine struct {
	At            time.Time        `json:"at"`
	DeclarationID string           `json:"declarationId"`
	ExporterCode  string           `json:"exporterCode"`
	Kind          NotificationKind `json:"kind"`
	Message       string           `json:"message"`
	Notice        string           `json:"notice,omitempty"`
	Due           time.Time        `json:"due,omitzero"`
}

// OpenFileNotifier opens the file at path for appending, creating it if need be.
func OpenFileNotifier(path string) (*FileNotifier, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open notification file: %w", err)
	}
	return &FileNotifier{f: f, path: path, now: time.Now}, nil
}

// Path returns the file the notifier appends to.
func (j *FileNotifier) Path() string { return j.path }

// Notify implements Notifier: it appends the line and syncs the file before returning, so a
// notification reported sent is on disk.
func (j *FileNotifier) Notify(_ context.Context, n Notification) error {
	b, err := json.Marshal(notificationLine{
		At: j.now().UTC(), DeclarationID: n.DeclarationID, ExporterCode: n.ExporterCode, Kind: n.Kind,
		Message: n.Message, Notice: n.Notice, Due: n.Due,
	})
	if err != nil {
		return fmt.Errorf("encode notification: %w", err)
	}
	b = append(b, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return errors.New("notification file is closed")
	}
	if _, err := j.f.Write(b); err != nil {
		return fmt.Errorf("write %s: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", j.path, err)
	}
	return nil
}

// Close closes the file.
func (j *FileNotifier) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}
