// Package audit holds the auditor's tools for closed and running clearances: it reads event
// histories in the JSON form the Temporal Web UI downloads and `temporal workflow show --output
// json` prints, or fetches them from a server; replays them against the ExportClearance code in
// this build to prove the recorded history still replays; reconstructs from the events alone the
// decision trail of a clearance (who decided what, when, and how it ended); and gives every
// history a canonical SHA-256 digest that does not depend on where the history came from.
// The auditor's command line, over these tools, is cmd/auditor/cli.
package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/medsupply/customs/workflows"
)

// MaxHistoryBytes bounds a history file the tools read: a clearance's history is well under a
// megabyte, and the server's own limit on a history is 50 MB.
const MaxHistoryBytes = 64 << 20

// InputError says why a file or stream is not a history that can be read. Its message is one
// line and names the source.
type InputError struct {
	Source string
	Reason string
}

func (e *InputError) Error() string { return e.Source + ": " + e.Reason }

// ReadHistoryFile reads a history file in the Web UI's or the CLI's JSON form.
func ReadHistoryFile(path string) (*historypb.History, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &InputError{Source: path, Reason: "cannot open: " + unwrapPathError(err)}
	}
	defer func() { _ = f.Close() }()
	return ReadHistory(f, path)
}

func unwrapPathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// ReadHistory reads one history in JSON: the proto-JSON of a temporal.api.history.v1.History,
// {"events":[...]}, as the Web UI downloads it (with the "encoded" setting) and the CLI prints
// it. Enum values may be in either of the forms Temporal has used ("EVENT_TYPE_WORKFLOW_
// EXECUTION_STARTED" or "WorkflowExecutionStarted"); a bare array of events is accepted too, and
// the file the server's history archival writes (an array of histories, one per stored batch).
// source names the input in errors. The history must start with the workflow's start event and
// number its events 1, 2, 3, ... without a gap: a file cut short in the middle of the JSON or
// missing events is refused, while a history that simply ends early (a running workflow) is not.
func ReadHistory(r io.Reader, source string) (*historypb.History, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxHistoryBytes+1))
	if err != nil {
		return nil, &InputError{Source: source, Reason: "cannot read: " + err.Error()}
	}
	if len(b) > MaxHistoryBytes {
		return nil, &InputError{Source: source, Reason: fmt.Sprintf("larger than %d MiB: not a clearance history", MaxHistoryBytes>>20)}
	}
	trimmed := bytes.TrimSpace(b)
	switch {
	case len(trimmed) == 0:
		return nil, &InputError{Source: source, Reason: "empty file: not a history"}
	case trimmed[0] != '{' && trimmed[0] != '[':
		return nil, &InputError{Source: source, Reason: fmt.Sprintf("not JSON (it starts with %q): want the history JSON the Web UI downloads or `temporal workflow show --output json` prints", head(trimmed))}
	}
	// Decoded first, validated only when that fails: the JSON is scanned once on the way in.
	var h *historypb.History
	switch {
	case archived(trimmed):
		h, err = readArchive(trimmed)
	case trimmed[0] == '[':
		h, err = client.HistoryFromJSON(bytes.NewReader(append(append([]byte(`{"events":`), trimmed...), '}')), client.HistoryJSONOptions{})
	default:
		h, err = client.HistoryFromJSON(bytes.NewReader(trimmed), client.HistoryJSONOptions{})
	}
	if err != nil {
		if !json.Valid(trimmed) {
			return nil, &InputError{Source: source, Reason: "not valid JSON (" + jsonProblem(trimmed) + "): the file is truncated or corrupt"}
		}
		return nil, &InputError{Source: source, Reason: "not a Temporal history: " + OneLine(err.Error())}
	}
	if err := checkEvents(h); err != nil {
		return nil, &InputError{Source: source, Reason: err.Error()}
	}
	return h, nil
}

// archived tells the server's archive form, an array of histories ([{"events":[...]},...]), from
// a bare array of events ([{"eventId":...},...]).
func archived(b []byte) bool {
	b = bytes.TrimLeft(b[1:], " \t\r\n")
	if len(b) == 0 || b[0] != '{' {
		return false
	}
	return bytes.HasPrefix(bytes.TrimLeft(b[1:], " \t\r\n"), []byte(`"events"`))
}

// batchJoint is where one stored batch ends and the next begins in the archive form, with any
// spacing. It cannot match inside a JSON string, where every quote is escaped; nor can the two
// spellings the protobuf library writes (a space after its commas or not), found faster.
var (
	batchJoint   = regexp.MustCompile(`\]\s*\}\s*,\s*\{\s*"events"\s*:\s*\[`)
	batchJoints  = [][]byte{[]byte(`]},{"events":[`), []byte(`]}, {"events":[`)}
	batchReplace = []byte(",")
)

// readArchive reads the archive form: the batches of events the server stored, in order, each as
// the proto-JSON of a History. Fields this build does not know are dropped, as the server does
// when it reads an archive written by another release. The batches are joined into one History
// and decoded at once; a file that does not decode so is read batch by batch, for the error.
func readArchive(b []byte) (*historypb.History, error) {
	opts := temporalproto.CustomJSONUnmarshalOptions{DiscardUnknown: true}
	decodeJoined := func(joined []byte) *historypb.History {
		joined = bytes.TrimSpace(joined)
		if len(joined) < 2 || joined[len(joined)-1] != ']' {
			return nil
		}
		h := &historypb.History{}
		if opts.Unmarshal(bytes.TrimSpace(joined[1:len(joined)-1]), h) != nil {
			return nil
		}
		return h
	}
	joined := b
	for _, j := range batchJoints {
		if bytes.Contains(joined, j) {
			joined = bytes.ReplaceAll(joined, j, batchReplace)
		}
	}
	if h := decodeJoined(joined); h != nil {
		return h, nil
	}
	if h := decodeJoined(batchJoint.ReplaceAll(b, batchReplace)); h != nil {
		return h, nil
	}
	var batches []json.RawMessage
	if err := json.Unmarshal(b, &batches); err != nil {
		return nil, err
	}
	h := &historypb.History{}
	for i, raw := range batches {
		var batch historypb.History
		if err := opts.Unmarshal(raw, &batch); err != nil {
			return nil, fmt.Errorf("batch %d: %w", i+1, err)
		}
		h.Events = append(h.Events, batch.Events...)
	}
	return h, nil
}

func head(b []byte) string {
	if len(b) > 16 {
		b = b[:16]
	}
	return string(b)
}

// jsonProblem describes where JSON stops being valid.
func jsonProblem(b []byte) string {
	var v any
	err := json.Unmarshal(b, &v)
	var syn *json.SyntaxError
	switch {
	case err == nil:
		return "unknown problem"
	case errors.As(err, &syn):
		if syn.Offset >= int64(len(b)) {
			return fmt.Sprintf("it ends at byte %d in the middle of a value", len(b))
		}
		return fmt.Sprintf("at byte %d: %s", syn.Offset, syn.Error())
	case strings.Contains(err.Error(), "unexpected end"):
		return fmt.Sprintf("it ends at byte %d in the middle of a value", len(b))
	}
	return OneLine(err.Error())
}

// checkEvents refuses a history that does not start with the start event or skips events.
func checkEvents(h *historypb.History) error {
	events := h.GetEvents()
	if len(events) == 0 {
		return errors.New("no events: not a Temporal history")
	}
	if events[0].GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED ||
		events[0].GetWorkflowExecutionStartedEventAttributes() == nil {
		return fmt.Errorf("corrupt history: event %d is %s, not the workflow's start event",
			events[0].GetEventId(), eventName(events[0].GetEventType()))
	}
	for i, e := range events {
		if want := int64(i + 1); e.GetEventId() != want {
			return fmt.Errorf("corrupt or truncated history: event %d follows event %d (want event %d)",
				e.GetEventId(), want-1, want)
		}
	}
	return nil
}

// Start is what the start event of a history says about the execution.
type Start struct {
	WorkflowID   string
	RunID        string
	WorkflowType string
	// DeclarationID and Exporter (the exporter's code) are read from the input when it is a
	// clearance's; "" otherwise.
	DeclarationID string
	Exporter      string
}

// StartOf reads the start event of a history with plain payloads.
func StartOf(h *historypb.History) Start { return Converters{}.StartOf(h) }

// StartOf reads the start event. The workflow ID is the one the server recorded, or else the
// clearance's ID rule applied to the declaration in the input.
func (c Converters) StartOf(h *historypb.History) Start {
	var s Start
	events := h.GetEvents()
	if len(events) == 0 {
		return s
	}
	attr := events[0].GetWorkflowExecutionStartedEventAttributes()
	s.WorkflowType = attr.GetWorkflowType().GetName()
	s.WorkflowID = attr.GetWorkflowId()
	s.RunID = attr.GetOriginalExecutionRunId()
	if s.WorkflowType == workflows.WorkflowName {
		var in workflows.Input
		if err := c.data().FromPayloads(attr.GetInput(), &in); err == nil {
			s.DeclarationID = in.Declaration.ID
			s.Exporter = in.Declaration.Exporter.Code
		}
	}
	if s.WorkflowID == "" && s.DeclarationID != "" {
		if id, err := workflows.WorkflowID(s.Exporter, s.DeclarationID); err == nil {
			s.WorkflowID = id
		}
	}
	return s
}

// FetchHistory reads the whole history of a workflow execution from the server (runID "" for the
// latest run).
func FetchHistory(ctx context.Context, c client.Client, workflowID, runID string) (*historypb.History, error) {
	it := c.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, err
		}
		h.Events = append(h.Events, e)
	}
	if err := checkEvents(h); err != nil {
		return nil, fmt.Errorf("history of %s: %w", workflowID, err)
	}
	return h, nil
}

// MarshalHistoryJSON writes a history as the Web UI downloads it: the proto-JSON of the History
// message, {"events":[...]}, enums as EVENT_TYPE_..., 64-bit integers as strings, payloads
// base64-encoded, indented by two spaces.
func MarshalHistoryJSON(h *historypb.History) ([]byte, error) {
	b, err := temporalproto.CustomJSONMarshalOptions{}.Marshal(h)
	if err != nil {
		return nil, err
	}
	// The marshaller varies its whitespace on purpose; indent afresh so a file is stable.
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// DigestAlgorithm names how Digest is computed; it is printed beside every digest.
const DigestAlgorithm = "sha256/deterministic-proto"

// Digest returns the canonical digest of a history: the lower-case hex SHA-256 of the
// deterministic protobuf binary encoding (proto.MarshalOptions{Deterministic: true}) of the
// temporal.api.history.v1.History message, after fields unknown to this build's API are dropped.
// It depends only on the events, not on whether they were read from the Web UI's JSON, the
// CLI's JSON or the server's gRPC answer, nor on the JSON's enum spelling or whitespace.
func Digest(h *historypb.History) (string, error) {
	c := proto.Clone(h).(*historypb.History)
	dropUnknown(c.ProtoReflect())
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode history: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// dropUnknown clears the unknown fields of m and every message inside it. A history read from
// JSON has none (the JSON reader discards them), so one read over gRPC must not keep them either.
func dropUnknown(m protoreflect.Message) {
	if len(m.GetUnknown()) > 0 {
		m.SetUnknown(nil)
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				dropUnknown(l.Get(i).Message())
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				dropUnknown(mv.Message())
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			dropUnknown(v.Message())
		}
		return true
	})
}

// eventName is an event type as the Web UI shows it: WorkflowExecutionStarted.
func eventName(t enumspb.EventType) string { return t.String() }

// OneLine folds a message onto one line.
func OneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
