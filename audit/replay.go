package audit

import (
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.temporal.io/sdk/interceptor"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/proto"

	"github.com/medsupply/customs/workflows"
)

// FailureKind classifies why a history did not replay.
type FailureKind string

// Kinds of replay failure.
const (
	// KindNonDeterminism: the code in this build makes other decisions than the recorded ones.
	KindNonDeterminism FailureKind = "non-determinism"
	// KindWorkflowType: the history is of a workflow type this build does not replay.
	KindWorkflowType FailureKind = "workflow-type"
	// KindInput: the file or the fetched history is not a readable history.
	KindInput FailureKind = "input"
	// KindReplay: the replay failed for another reason (the workflow code failed or panicked).
	KindReplay FailureKind = "replay"
)

// ReplayError is a history that did not replay. Its message is one line.
type ReplayError struct {
	// WorkflowID is the history's workflow ID, or its source when it has none.
	WorkflowID string
	// Source is the file the history was read from, when it is not named by the caller.
	Source string
	Kind   FailureKind
	// EventID and EventType locate where the replay diverged from the history, when known.
	EventID   int64
	EventType string
	Reason    string
}

func (e *ReplayError) Error() string {
	where := ""
	if e.EventID > 0 {
		where = fmt.Sprintf(" at event %d (%s)", e.EventID, e.EventType)
	}
	id := e.WorkflowID
	if e.Source != "" && e.Source != id {
		id += " (" + e.Source + ")"
	}
	return fmt.Sprintf("%s: %s%s: %s", id, e.Kind, where, e.Reason)
}

// Replay replays a history against the ExportClearance workflow of this build, registered under
// workflows.WorkflowName as the worker registers it, reading payloads with conv (the zero value
// for plain payloads). It returns nil when the code makes exactly the recorded decisions, and a
// *ReplayError otherwise. It never panics.
func Replay(h *historypb.History, conv Converters) error {
	return ReplayWith(h, workflows.ExportClearance, conv)
}

// ReplayWith replays a history against wf registered under workflows.WorkflowName: a changed
// copy of the workflow can be checked against recorded histories before it is released.
func ReplayWith(h *historypb.History, wf any, conv Converters) error {
	return replayStarted(h, wf, conv.StartOf(h), conv, false)
}

// replayStarted is ReplayWith for a history whose start the caller has read. owned says that
// nothing else reads h, not even later: the replayer may then write to it (see replayOnce).
func replayStarted(h *historypb.History, wf any, start Start, conv Converters, owned bool) error {
	id := start.WorkflowID
	if id == "" {
		id = "(no workflow ID)"
	}
	if err := checkEvents(h); err != nil {
		return &ReplayError{WorkflowID: id, Kind: KindInput, Reason: err.Error()}
	}
	if start.WorkflowType != workflows.WorkflowName {
		return &ReplayError{WorkflowID: id, Kind: KindWorkflowType,
			Reason: fmt.Sprintf("the history is of workflow type %q, not %s; not replayed", start.WorkflowType, workflows.WorkflowName)}
	}
	if err := conv.checkReadable(h); err != nil {
		return &ReplayError{WorkflowID: id, Kind: KindInput, Reason: err.Error()}
	}
	err := replayOnce(h, wf, start, conv, owned)
	if err == nil {
		return nil
	}
	re := classify(id, err)
	if re.Kind == KindNonDeterminism {
		re.EventID, re.EventType = locate(h, wf, start, conv, rawMessage(err), re.Reason)
	}
	return re
}

var quiet = log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))

// replayOnce runs the SDK's replayer with a fresh registry, turning a panic into an error. The
// replayer writes into the history it is given: it merges search attribute and memo upserts into
// the start event, and writes every payload back where it found it. So it gets a copy, and the
// caller's history, and its digest, stay as recorded, for any number of replays at once. A history
// the caller owns gets a copy of its start event alone: the payloads written back are the same.
func replayOnce(h *historypb.History, wf any, start Start, conv Converters, owned bool) (err error) {
	if owned {
		events := make([]*historypb.HistoryEvent, len(h.GetEvents()))
		copy(events, h.GetEvents())
		if len(events) > 0 {
			events[0] = proto.Clone(events[0]).(*historypb.HistoryEvent)
		}
		h = &historypb.History{Events: events}
	} else {
		h = proto.Clone(h).(*historypb.History)
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("replayer panicked: %v", p)
		}
	}()
	r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{
		DataConverter: conv.Data, FailureConverter: conv.Failure,
		// As every worker runs the clearance: with the interceptor that reads its verified callers.
		Interceptors: []interceptor.WorkerInterceptor{workflows.Interceptor()},
	})
	if err != nil {
		return err
	}
	r.RegisterWorkflowWithOptions(wf, workflow.RegisterOptions{Name: workflows.WorkflowName})
	return r.ReplayWorkflowHistoryWithOptions(quiet, h, worker.ReplayWorkflowHistoryOptions{
		OriginalExecution: workflow.Execution{ID: start.WorkflowID, RunID: start.RunID},
	})
}

var failureMessage = regexp.MustCompile(`message:"((?:[^"\\]|\\.)*)"`)

// rawMessage is the SDK's message: a failed replay task carries a Failure printed in the proto
// text format, whose message is the part to read.
func rawMessage(err error) string {
	msg := err.Error()
	if m := failureMessage.FindStringSubmatch(msg); m != nil {
		if s, uerr := strconv.Unquote(`"` + m[1] + `"`); uerr == nil {
			return s
		}
		return m[1]
	}
	return msg
}

func classify(id string, err error) *ReplayError {
	msg := rawMessage(err)
	kind := KindReplay
	switch {
	case strings.Contains(msg, "TMPRL1100") || strings.Contains(strings.ToLower(msg), "nondetermin"):
		kind = KindNonDeterminism
	case strings.Contains(msg, "unable to find workflow type"):
		kind = KindWorkflowType
	}
	return &ReplayError{WorkflowID: id, Kind: kind, Reason: shorten(plain(OneLine(msg)), 400)}
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

var (
	namedEvent  = regexp.MustCompile(`(?:history event is|missing replay command for) ([A-Za-z]+):`)
	eventNumber = regexp.MustCompile(`(?i)(?:scheduled?EventID|event ?ID):? (\d+)`)
	namedEntity = regexp.MustCompile(`(?:ActivityId|TimerId):([^,)\s]+)`)
	mismatch    = regexp.MustCompile(`^\[TMPRL1100\] nondeterministic workflow: history event is ([A-Za-z]+): (.*), replay command is ([A-Za-z]+): (.*)$`)
	missing     = regexp.MustCompile(`^\[TMPRL1100\] nondeterministic workflow: missing replay command for ([A-Za-z]+): (.*)$`)
	extra       = regexp.MustCompile(`^\[TMPRL1100\] nondeterministic workflow: extra replay command for ([A-Za-z]+): (.*)$`)
	detail      = regexp.MustCompile(`(?:ActivityType|WorkflowType):\(Name:([^,)]+)|TimerId:([^,)]+)|MarkerName:([^,)]+)|SignalName:([^,)]+)`)
)

// plain rewrites the SDK's mismatch messages, which print whole event and command attributes,
// into one short sentence; other messages are kept.
func plain(msg string) string {
	named := func(kind, attrs string) string {
		if m := detail.FindStringSubmatch(attrs); m != nil {
			for _, v := range m[1:] {
				if v != "" {
					return kind + " " + v
				}
			}
		}
		return kind
	}
	if m := mismatch.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("[TMPRL1100] the history has %s where the code now issues %s", named(m[1], m[2]), named(m[3], m[4]))
	}
	if m := missing.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("[TMPRL1100] the history has %s, which the code no longer issues", named(m[1], m[2]))
	}
	if m := extra.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("[TMPRL1100] the code now issues %s, which the history lacks", named(m[1], m[2]))
	}
	return msg
}

// locate finds where a history stops matching the code. The SDK checks the commands of a
// replayed workflow task against the events that follow its WorkflowTaskCompleted event, so
// the history is cut before each WorkflowTaskScheduled event (each cut keeps whole tasks with
// all their commands) and the shortest cut that fails the same way holds the divergence after
// the cut before it; the SDK's message names the event's type, and its activity or timer ID.
func locate(h *historypb.History, wf any, start Start, conv Converters, msg, reason string) (int64, string) {
	events := h.GetEvents()
	var cuts []int
	for i, e := range events {
		if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED && i >= 3 {
			cuts = append(cuts, i)
		}
	}
	cuts = append(cuts, len(events))
	fails := func(n int) bool {
		err := replayOnce(&historypb.History{Events: events[:n]}, wf, start, conv, false)
		if err == nil {
			return false
		}
		re := classify("", err)
		return re.Kind == KindNonDeterminism && re.Reason == reason
	}
	j := sort.Search(len(cuts), func(i int) bool { return fails(cuts[i]) })
	if j == len(cuts) {
		return 0, ""
	}
	lo := 0
	if j > 0 {
		lo = cuts[j-1]
	}
	window := events[lo:cuts[j]]
	if m := namedEvent.FindStringSubmatchIndex(msg); m != nil {
		typ := msg[m[2]:m[3]]
		entity := ""
		if em := namedEntity.FindStringSubmatch(msg[m[1]:]); em != nil {
			entity = em[1]
		}
		var first *historypb.HistoryEvent
		for _, e := range window {
			if e.GetEventType().String() != typ {
				continue
			}
			if first == nil {
				first = e
			}
			if entity == "" || entityOf(e) == entity {
				return e.GetEventId(), typ
			}
		}
		if first != nil {
			return first.GetEventId(), typ
		}
	}
	if m := eventNumber.FindStringSubmatch(msg); m != nil {
		if id, err := strconv.ParseInt(m[1], 10, 64); err == nil && id >= 1 && id <= int64(len(events)) {
			return id, events[id-1].GetEventType().String()
		}
	}
	// The code issues commands the history lacks, or the message names no event: point at the
	// first command of the task whose commands differ.
	for i, e := range window[:len(window)-1] {
		if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
			e = window[i+1]
			return e.GetEventId(), e.GetEventType().String()
		}
	}
	e := window[0]
	return e.GetEventId(), e.GetEventType().String()
}

func entityOf(e *historypb.HistoryEvent) string {
	if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
		return a.GetActivityId()
	}
	if a := e.GetTimerStartedEventAttributes(); a != nil {
		return a.GetTimerId()
	}
	return ""
}
