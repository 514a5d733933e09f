package faults

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/codec"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/trs"
	"github.com/medsupply/customs/workflows"
)

var (
	payloadName          = (&commonpb.Payload{}).ProtoReflect().Descriptor().FullName()
	searchAttributesName = (&commonpb.SearchAttributes{}).ProtoReflect().Descriptor().FullName()
	failureName          = (&failurepb.Failure{}).ProtoReflect().Descriptor().FullName()
)

// walk calls visit on every message in m, m included, saying whether it sits inside search
// attributes.
func walk(m protoreflect.Message, inSearchAttributes bool, visit func(protoreflect.Message, bool)) {
	if m.Descriptor().FullName() == searchAttributesName {
		inSearchAttributes = true
	}
	visit(m, inSearchAttributes)
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := range v.List().Len() {
				walk(v.List().Get(i).Message(), inSearchAttributes, visit)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				walk(mv.Message(), inSearchAttributes, visit)
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			walk(v.Message(), inSearchAttributes, visit)
		}
		return true
	})
}

// secrets are the strings of a declaration that must not reach the server in clear: its ID (in
// payloads; the workflow ID carries it by design) and the parties' names (anywhere).
type secrets struct {
	id    []string
	names []string
}

// forms returns s as it may appear in payload bytes: raw and JSON-escaped.
func forms(s string) []string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	escaped := strings.Trim(string(b), `"`)
	if escaped == s {
		return []string{s}
	}
	return []string{s, escaped}
}

func secretsOf(d declaration.Declaration) secrets {
	var s secrets
	s.id = forms(d.ID)
	for _, name := range []string{d.Exporter.Name, d.Manufacturer.Name, d.Consignee.Name} {
		s.names = append(s.names, forms(name)...)
	}
	return s
}

// leak returns the first secret in b, or "".
func leak(b []byte, candidates ...[]string) string {
	for _, list := range candidates {
		for _, s := range list {
			if bytes.Contains(b, []byte(s)) {
				return s
			}
		}
	}
	return ""
}

// historyScan is what a raw client finds in a clearance's history.
type historyScan struct {
	events, payloads, encrypted, searchAttributes, failures int
	input                                                   *commonpb.Payload
}

// scanHistory reads a clearance's history with a client that has no codec and checks that every
// payload outside search attributes is encrypted, that no payload but the DeclarationId search
// attribute carries the declaration ID, that none carries a party's name, that no event carries a party's name at all, and that every failure's message
// is the placeholder the codec leaves.
func scanHistory(t *testing.T, raw client.Client, d declaration.Declaration) historyScan {
	t.Helper()
	wid := workflowID(t, clearance.RefOf(d))
	sec := secretsOf(d)
	var scan historyScan
	it := raw.GetWorkflowHistory(ctxFor(t, conditionTimeout), wid, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", wid, err)
		}
		scan.events++
		where := fmt.Sprintf("%s event %d (%s)", wid, e.GetEventId(), e.GetEventType())
		b, err := proto.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if s := leak(b, sec.names); s != "" {
			t.Errorf("%s holds %q in clear", where, s)
		}
		if a := e.GetWorkflowExecutionStartedEventAttributes(); a != nil && len(a.GetInput().GetPayloads()) > 0 {
			scan.input = a.GetInput().GetPayloads()[0]
		}
		walk(e.ProtoReflect(), false, func(m protoreflect.Message, inSA bool) {
			switch m.Descriptor().FullName() {
			case payloadName:
				p := m.Interface().(*commonpb.Payload)
				scan.payloads++
				raw, err := proto.Marshal(p)
				if err != nil {
					t.Fatal(err)
				}
				// Search attributes are the server's index and are never encrypted: the
				// DeclarationId attribute carries the declaration ID, as the workflow ID does;
				// no other payload may, and none may carry a name.
				secrets := [][]string{sec.id, sec.names}
				if inSA {
					secrets = [][]string{sec.names}
				}
				if s := leak(raw, secrets...); s != "" {
					t.Errorf("%s: a payload holds %q in clear", where, s)
				}
				enc := string(p.GetMetadata()[converter.MetadataEncoding])
				switch {
				case inSA:
					scan.searchAttributes++
				case enc == codec.EncodingEncrypted:
					scan.encrypted++
				default:
					t.Errorf("%s: payload with encoding %q, want %q: %.80q", where, enc, codec.EncodingEncrypted, p.GetData())
				}
			case failureName:
				f := m.Interface().(*failurepb.Failure)
				scan.failures++
				if f.GetMessage() != "Encoded failure" || f.GetStackTrace() != "" || f.GetEncodedAttributes() == nil {
					t.Errorf("%s: failure message %q, stack trace %d bytes, encoded attributes %v; want them encrypted",
						where, f.GetMessage(), len(f.GetStackTrace()), f.GetEncodedAttributes() != nil)
				}
			}
		})
	}
	return scan
}

// TestEncryptedEndToEnd runs the worker binary and a client with the codec keys: a green
// clearance to release, and the masks of a non-notified body through a document officer's
// decision to refusal with an InvalidCertificate failure. Read without the keys, their
// histories hold only encrypted payloads (search attributes aside) and encrypted failures, and
// neither the declaration ID nor a party's name in any payload; with the keys, the results
// decode.
func TestEncryptedEndToEnd(t *testing.T) {
	t.Parallel()
	began := time.Now()
	key, err := codec.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(keys, fmt.Appendf(nil, `{"active":"faults-1","keys":{"faults-1":%q}}`, key), 0o600); err != nil {
		t.Fatal(err)
	}
	ring, err := codec.LoadKeyring(keys)
	if err != nil {
		t.Fatal(err)
	}

	ns := newNamespace(t)
	address := srv.GetFrontendHostPort()
	c := dial(t, address, ns, keys)
	raw := dial(t, address, ns, "")
	w := startWorker(t, address, ns, t.TempDir(), "encrypting", "--codec-keys", keys)
	awaitPolling(t, c, w)

	released, refused := fresh(t, exCannulas), fresh(t, exNonNotified)
	ids := submitAll(t, c, released, refused)
	out := awaitResults(c, ids, conditionTimeout)
	awaitOfficer(t, c, clearance.RefOf(refused), policy.StageDocumentCheck)
	decide(t, c, clearance.RefOf(refused), approval(policy.StageDocumentCheck, "doc-li"))
	results := out.wait(t)
	if r := results[clearance.RefOf(released)]; r.State != workflows.StateReleased || r.Notice == nil || r.DeclarationID != released.ID {
		t.Errorf("%s decoded with the keys: %s at %s, notice %v", released.ID, r.State, r.Stage, r.Notice)
	}
	if r := results[clearance.RefOf(refused)]; r.State != workflows.StateRefused || r.Stage != policy.StageCertificationCheck {
		t.Errorf("%s decoded with the keys: %s at %s: %s", refused.ID, r.State, r.Stage, r.Reason)
	}

	var withoutKeys workflows.Result
	if err := raw.GetWorkflow(ctxFor(t, conditionTimeout), workflowID(t, clearance.RefOf(released)), "").Get(ctxFor(t, conditionTimeout), &withoutKeys); err == nil {
		t.Errorf("the result decoded without the keys: %+v", withoutKeys)
	}

	// The Time Release Study reads the two from their study memos, which the workers wrote
	// encrypted: with the keys, and not without them.
	query := fmt.Sprintf("WorkflowId IN ('%s', '%s')", workflowID(t, clearance.RefOf(released)), workflowID(t, clearance.RefOf(refused)))
	var read trs.Reading
	eventuallyRead := time.Now().Add(conditionTimeout)
	for {
		var cs []trs.Clearance
		cs, read, err = trs.Reader{Client: c, Namespace: ns, DataConverter: codec.DataConverter(codec.New(ring))}.Read(ctxFor(t, conditionTimeout), query)
		if err == nil && len(cs) == 2 && !cs[0].Running && !cs[1].Running {
			break
		}
		if time.Now().After(eventuallyRead) {
			t.Fatalf("the study with the keys: %v, %d clearances (%+v)", err, len(cs), read)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if read.FromMemo != 2 {
		t.Errorf("study read %+v, want both from their memos", read)
	}
	if _, _, err := (trs.Reader{Client: raw, Namespace: ns}).Read(ctxFor(t, conditionTimeout), query); err == nil {
		t.Error("the study memos decoded without the keys")
	}

	var total historyScan
	for _, d := range []declaration.Declaration{released, refused} {
		scan := scanHistory(t, raw, d)
		// The scan must be able to see the secrets: the input, decrypted, holds them.
		if scan.input == nil {
			t.Fatalf("%s: no workflow input in the history", d.ID)
		}
		plain, err := codec.New(ring).Decode([]*commonpb.Payload{scan.input})
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := proto.Marshal(plain[0]); leak(b, secretsOf(d).id) == "" || leak(b, secretsOf(d).names) == "" {
			t.Errorf("%s: the decrypted input lacks the declaration ID or a name: %.200q", d.ID, plain[0].GetData())
		}
		total.events += scan.events
		total.payloads += scan.payloads
		total.encrypted += scan.encrypted
		total.searchAttributes += scan.searchAttributes
		total.failures += scan.failures
	}
	if total.failures == 0 {
		t.Error("no failure in the histories: the refusal's InvalidCertificate should be one")
	}

	t.Logf("covered: 2 clearances (1 released, 1 refused with InvalidCertificate after an officer's update), read without the keys: "+
		"%d events, %d payloads, %d encrypted, %d search attribute values (clear by design, no ID or name), %d failures encrypted; "+
		"no declaration ID or party name in any payload; results decode with the keys only; %s",
		total.events, total.payloads, total.encrypted, total.searchAttributes, total.failures, since(began))
}
