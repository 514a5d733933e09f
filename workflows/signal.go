package workflows

import (
	"encoding/json"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/proto"
)

// metadataSignal marks a decision signal as the worker's Interceptor delivers it: wrapped with
// its own verified sender (signalEnvelope), so that a signal and its sender reach the clearance as
// one value and cannot fall out of step.
const metadataSignal = "customs-signal"

// signalEnvelope is a decision signal with its sender, as the Interceptor hands it to the
// signal channel. It lives only in the worker's memory: the history keeps the signal as sent.
type signalEnvelope struct {
	// Caller is the verified sender; nil without authentication, an empty Principal when the
	// header was not the frontend's.
	Caller *Principal `json:"caller,omitempty"`
	// Payloads are the signal's payloads as sent, still encoded (and encrypted, with a codec).
	Payloads []byte `json:"payloads"`
}

// wrapSignal returns the payloads the signal channel receives for a decision signal sent with
// args by caller.
func wrapSignal(args *commonpb.Payloads, caller *Principal) (*commonpb.Payloads, error) {
	b, err := proto.Marshal(args)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(signalEnvelope{Caller: caller, Payloads: b})
	if err != nil {
		return nil, err
	}
	return &commonpb.Payloads{Payloads: []*commonpb.Payload{{
		Metadata: map[string][]byte{converter.MetadataEncoding: []byte(converter.MetadataEncodingJSON), metadataSignal: []byte("1")},
		Data:     data,
	}}}, nil
}

// decisionSignal is one decision signal as the clearance takes it: the payload as JSON, its
// verified sender, and why it cannot be read, if it cannot.
type decisionSignal struct {
	raw        json.RawMessage
	caller     *Principal
	unreadable error
}

// receiveDecision waits for the next decision signal. Every signal delivered is returned, one
// that cannot be read too (with unreadable set), so that it is recorded as refused: the SDK drops
// a signal that does not decode into the receiver's type, and this receives each as it came.
func (c *clearance) receiveDecision(ctx workflow.Context) decisionSignal {
	var rv converter.RawValue
	c.decisionSignals.Receive(ctx, &rv)
	return unwrapDecision(ctx, rv.Payload())
}

func unwrapDecision(ctx workflow.Context, p *commonpb.Payload) decisionSignal {
	if string(p.GetMetadata()[metadataSignal]) != "1" {
		// A worker without the Interceptor: no verified sender, and the payload as it came.
		var raw json.RawMessage
		if err := converter.GetDefaultDataConverter().FromPayload(p, &raw); err != nil {
			return decisionSignal{unreadable: unreadable(p, err)}
		}
		return decisionSignal{raw: raw}
	}
	var env signalEnvelope
	if err := json.Unmarshal(p.GetData(), &env); err != nil {
		return decisionSignal{caller: &Principal{}, unreadable: fmt.Errorf("decision: the worker's envelope: %w", err)}
	}
	var args commonpb.Payloads
	if err := proto.Unmarshal(env.Payloads, &args); err != nil {
		return decisionSignal{caller: env.Caller, unreadable: fmt.Errorf("decision: the signal's payloads: %w", err)}
	}
	if len(args.Payloads) == 0 {
		return decisionSignal{caller: env.Caller, unreadable: fmt.Errorf("decision: the signal carries no payload")}
	}
	// Decoded as the SDK decodes a signal, with the worker's data converter and codec: through a
	// channel of the workflow's own, which drops a value that does not decode.
	ch := workflow.NewBufferedChannel(ctx, 1)
	ch.SendAsync(&commonpb.Payloads{Payloads: args.Payloads[:1]})
	var raw json.RawMessage
	if !ch.ReceiveAsync(&raw) {
		return decisionSignal{caller: env.Caller, unreadable: unreadable(args.Payloads[0], nil)}
	}
	return decisionSignal{raw: raw, caller: env.Caller}
}

// unreadable says why a signal's payload cannot be read as JSON.
func unreadable(p *commonpb.Payload, err error) error {
	enc := string(p.GetMetadata()[converter.MetadataEncoding])
	if err != nil {
		return fmt.Errorf("decision: a payload of encoding %q cannot be read as JSON: %w", enc, err)
	}
	return fmt.Errorf("decision: a payload of encoding %q cannot be read as JSON; send the decision as a JSON object", enc)
}
