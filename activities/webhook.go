package activities

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
)

// The headers of a webhook delivery. The signature is the hex HMAC-SHA256, under the exporter's
// secret, of the delivery ID, the timestamp and the body joined by dots; "v1=" names the scheme.
const (
	HeaderWebhookID        = "Customs-Webhook-Id"
	HeaderWebhookTimestamp = "Customs-Webhook-Timestamp"
	HeaderWebhookSignature = "Customs-Webhook-Signature"
)

// MinWebhookSecret is the shortest secret an endpoint may have, in bytes.
const MinWebhookSecret = 16

// WebhookEndpoint is where one exporter receives its notifications, and the secret that signs them.
type WebhookEndpoint struct {
	URL    string
	Secret []byte
}

// WebhookNotifier delivers each notification to its exporter's endpoint as a signed HTTP POST,
// and hands notifications for exporters without an endpoint to Fallback (the file on one
// machine). A delivery that fails (no answer, or an answer other than 2xx) is an error the
// activity's retry policy retries with backoff; every attempt of one notification carries the same
// delivery ID, so a receiver recognises a delivery it already took.
type WebhookNotifier struct {
	Endpoints map[string]WebhookEndpoint
	Fallback  Notifier
	Client    *http.Client
	// Now is the clock of the timestamp; time.Now when nil.
	Now func() time.Time
}

// webhookBody is what a delivery carries.
type webhookBody struct {
	ID            string           `json:"id"`
	DeclarationID string           `json:"declarationId"`
	ExporterCode  string           `json:"exporterCode"`
	Kind          NotificationKind `json:"kind"`
	Message       string           `json:"message"`
	Notice        string           `json:"notice,omitempty"`
	Due           time.Time        `json:"due,omitzero"`
}

// Notify implements Notifier.
func (w *WebhookNotifier) Notify(ctx context.Context, n Notification) error {
	ep, ok := w.Endpoints[n.ExporterCode]
	if !ok {
		if w.Fallback == nil {
			return LogNotifier{}.Notify(ctx, n)
		}
		return w.Fallback.Notify(ctx, n)
	}
	id := deliveryID(ctx, n)
	body, err := json.Marshal(webhookBody{ID: id, DeclarationID: n.DeclarationID, ExporterCode: n.ExporterCode, Kind: n.Kind,
		Message: n.Message, Notice: n.Notice, Due: n.Due})
	if err != nil {
		return fmt.Errorf("encode notification: %w", err)
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	ts := strconv.FormatInt(now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook of exporter %s: %w", n.ExporterCode, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderWebhookID, id)
	req.Header.Set(HeaderWebhookTimestamp, ts)
	req.Header.Set(HeaderWebhookSignature, "v1="+sign(ep.Secret, id, ts, body))
	client := w.Client
	if client == nil {
		// A redirect is not a delivery: it would turn the POST into a GET without the body.
		client = &http.Client{Timeout: 8 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	resp, err := client.Do(req)
	if err != nil {
		// A *url.Error repeats the URL, query and all: name the endpoint redacted instead.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("deliver to %s: %w", redact(ep.URL), err)
	}
	defer func() { _ = resp.Body.Close() }()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("deliver to %s: the endpoint answered %s: %s", redact(ep.URL), resp.Status, strings.TrimSpace(string(answer)))
	}
	return nil
}

// deliveryID is the same for every attempt of one notification and differs between
// notifications: the activity that sends it, by workflow, run and activity ID. Outside an
// activity it is a digest of the notification.
func deliveryID(ctx context.Context, n Notification) string {
	var key string
	if activity.IsActivity(ctx) {
		info := activity.GetInfo(ctx)
		key = info.WorkflowExecution.ID + "/" + info.WorkflowExecution.RunID + "/" + info.ActivityID
	} else {
		b, _ := json.Marshal(n)
		key = string(b)
	}
	sum := sha256.Sum256([]byte(key))
	return "ntf_" + hex.EncodeToString(sum[:16])
}

func sign(secret []byte, id, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// redact drops a URL's user information and query, which may carry credentials.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the endpoint"
	}
	u.User, u.RawQuery = nil, ""
	return u.String()
}

// VerifyWebhook checks a delivery as its receiver should: the signature over the delivery ID,
// timestamp and body under the exporter's secret, and a timestamp within tolerance of now (a
// replayed old delivery is refused). It returns the delivery ID, by which the receiver keeps
// deliveries it already took.
func VerifyWebhook(secret []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) (string, error) {
	id, ts, sig := h.Get(HeaderWebhookID), h.Get(HeaderWebhookTimestamp), h.Get(HeaderWebhookSignature)
	if id == "" || ts == "" || sig == "" {
		return "", fmt.Errorf("webhook: %s, %s and %s are required", HeaderWebhookID, HeaderWebhookTimestamp, HeaderWebhookSignature)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", fmt.Errorf("webhook: %s %q is not a Unix time", HeaderWebhookTimestamp, ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return "", fmt.Errorf("webhook: timestamp %s is %s from now, beyond the %s tolerated", time.Unix(sec, 0).UTC().Format(time.RFC3339), d.Round(time.Second), tolerance)
	}
	want := "v1=" + sign(secret, id, ts, body)
	for _, s := range strings.Split(sig, " ") {
		if hmac.Equal([]byte(s), []byte(want)) {
			return id, nil
		}
	}
	return "", errors.New("webhook: the signature does not match the body under this secret")
}

// webhookFile is the form of the webhooks file.
type webhookFile struct {
	Exporters []struct {
		Exporter   string `json:"exporter"`
		URL        string `json:"url"`
		SecretFile string `json:"secretFile"`
	} `json:"exporters"`
}

// LoadWebhooks reads the webhooks file: for each exporter (its code in the trader registry) the
// URL of its endpoint and the file holding its signing secret. Every problem is reported with
// the entry it is in; unknown fields are refused.
func LoadWebhooks(path string) (map[string]WebhookEndpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f webhookFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("webhooks %s: %w", path, err)
	}
	out := map[string]WebhookEndpoint{}
	var errs []string
	for i, e := range f.Exporters {
		at := fmt.Sprintf("exporters[%d]", i)
		e.Exporter = strings.TrimSpace(e.Exporter)
		if e.Exporter == "" {
			errs = append(errs, at+".exporter: required")
		} else if _, dup := out[e.Exporter]; dup {
			errs = append(errs, fmt.Sprintf("%s.exporter: %s has an endpoint already", at, e.Exporter))
		}
		u, err := url.Parse(e.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Sprintf("%s.url: %q is not an http or https URL", at, e.URL))
		}
		var secret []byte
		if e.SecretFile == "" {
			errs = append(errs, at+".secretFile: required")
		} else if s, err := os.ReadFile(e.SecretFile); err != nil {
			errs = append(errs, fmt.Sprintf("%s.secretFile: %v", at, err))
		} else if secret = bytes.TrimSpace(s); len(secret) < MinWebhookSecret {
			errs = append(errs, fmt.Sprintf("%s.secretFile: the secret has %d bytes, fewer than %d", at, len(secret), MinWebhookSecret))
		}
		if e.Exporter != "" {
			out[e.Exporter] = WebhookEndpoint{URL: e.URL, Secret: secret}
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("webhooks %s: %s", path, strings.Join(errs, "; "))
	}
	return out, nil
}
