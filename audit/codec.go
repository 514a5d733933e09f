package audit

import (
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/medsupply/customs/codec"
	"github.com/medsupply/customs/connect"
)

// Converters read a history's payloads and failures as the workers wrote them. The zero value
// reads plain payloads, the SDK's defaults.
type Converters struct {
	Data    converter.DataConverter
	Failure converter.FailureConverter
}

// ConvertersFor returns the converters the connection options' --codec-keys make: payloads and
// failure messages decrypted with the keyring, or the defaults when no keyring is given. They
// are the ones connect gives clients and workers, so files and fetched histories read alike.
func ConvertersFor(o connect.Options) (Converters, error) {
	if o.CodecKeys == "" {
		return Converters{}, nil
	}
	ring, err := codec.LoadKeyring(o.CodecKeys)
	if err != nil {
		return Converters{}, fmt.Errorf("--codec-keys: %w", err)
	}
	var opts client.Options
	codec.Apply(&opts, codec.New(ring))
	return Converters{Data: opts.DataConverter, Failure: opts.FailureConverter}, nil
}

func (c Converters) data() converter.DataConverter {
	if c.Data != nil {
		return c.Data
	}
	return converter.GetDefaultDataConverter()
}

func (c Converters) failure() converter.FailureConverter {
	if c.Failure != nil {
		return c.Failure
	}
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{DataConverter: c.data()})
}

// checkReadable makes sure the converters can read the workflow's input, so that encrypted
// histories without the keyring fail with one clear sentence instead of a workflow panic.
func (c Converters) checkReadable(h *historypb.History) error {
	in := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetInput()
	for _, p := range in.GetPayloads() {
		if enc := string(p.GetMetadata()[converter.MetadataEncoding]); enc == codec.EncodingEncrypted && c.Data == nil {
			return fmt.Errorf("the payloads are encrypted (key %q): give the keyring with --codec-keys",
				p.GetMetadata()[codec.MetadataKeyID])
		}
	}
	var raw []any
	for range in.GetPayloads() {
		raw = append(raw, new(any))
	}
	if err := c.data().FromPayloads(in, raw...); err != nil {
		return fmt.Errorf("cannot read the workflow input: %s", OneLine(err.Error()))
	}
	return nil
}

// payloadString reads a single payload holding a string, "" when it cannot.
func (c Converters) payloadString(p *commonpb.Payload) string {
	if p == nil {
		return ""
	}
	var s string
	if err := c.data().FromPayloads(&commonpb.Payloads{Payloads: []*commonpb.Payload{p}}, &s); err != nil {
		return ""
	}
	return s
}
