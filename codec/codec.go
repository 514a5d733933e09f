// Package codec encrypts workflow payloads so the Temporal database holds ciphertext: an
// AES-256-GCM converter.PayloadCodec with the key ID in each payload's metadata (so keys can be
// rotated: new payloads use the active key, old ones decrypt with theirs), the client options
// that wire it into workers, starters and tools, and the codec HTTP server the Web UI calls to
// show decrypted payloads to officers.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

const (
	// EncodingEncrypted marks an encrypted payload.
	EncodingEncrypted = "binary/encrypted"
	// MetadataKeyID names the key a payload was encrypted with.
	MetadataKeyID = "encryption-key-id"
)

// Keyring holds the encryption keys by ID and which one encrypts new payloads.
type Keyring struct {
	Active string
	keys   map[string]cipher.AEAD
}

// keyringFile is the JSON form of a keyring:
//
//	{"active": "2026-11", "keys": {"2026-11": "<base64 of 32 bytes>", "2026-05": "..."}}
type keyringFile struct {
	Active string            `json:"active"`
	Keys   map[string]string `json:"keys"`
}

// ParseKeyring reads a keyring in JSON. Every key must be 32 bytes (AES-256), base64-encoded.
func ParseKeyring(b []byte) (*Keyring, error) {
	var f keyringFile
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if len(f.Keys) == 0 {
		return nil, errors.New("keyring: keys: at least one key is required")
	}
	k := &Keyring{Active: f.Active, keys: map[string]cipher.AEAD{}}
	ids := make([]string, 0, len(f.Keys))
	for id := range f.Keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if id == "" || strings.ContainsAny(id, " \t\n") {
			return nil, fmt.Errorf("keyring: keys: %q is not a usable key ID", id)
		}
		raw, err := base64.StdEncoding.DecodeString(f.Keys[id])
		if err != nil {
			return nil, fmt.Errorf("keyring: keys.%s: not base64: %w", id, err)
		}
		if len(raw) != 32 {
			return nil, fmt.Errorf("keyring: keys.%s: %d bytes, AES-256 needs 32", id, len(raw))
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, fmt.Errorf("keyring: keys.%s: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("keyring: keys.%s: %w", id, err)
		}
		k.keys[id] = aead
	}
	if _, ok := k.keys[f.Active]; !ok {
		return nil, fmt.Errorf("keyring: active: %q is not one of the keys", f.Active)
	}
	return k, nil
}

// LoadKeyring reads a keyring from a file, or, when source starts with "{", from the JSON
// itself (as an environment variable may carry it).
func LoadKeyring(source string) (*Keyring, error) {
	if strings.HasPrefix(strings.TrimSpace(source), "{") {
		return ParseKeyring([]byte(source))
	}
	b, err := os.ReadFile(source)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return ParseKeyring(b)
}

// NewKey returns a fresh random 32-byte key, base64-encoded, for a keyring file.
func NewKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// Codec is the AES-256-GCM payload codec.
type Codec struct {
	ring *Keyring
}

// New returns a codec over a keyring.
func New(ring *Keyring) *Codec { return &Codec{ring: ring} }

// Encode encrypts each payload, whole (metadata and data), with the active key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.ring.keys[c.ring.Active]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("encrypt payload: %w", err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("encrypt payload: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(EncodingEncrypted),
				MetadataKeyID:              []byte(c.ring.Active),
			},
			Data: aead.Seal(nonce, nonce, plain, []byte(c.ring.Active)),
		}
	}
	return out, nil
}

// Decode decrypts encrypted payloads with the key named in their metadata and passes others
// through unchanged.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != EncodingEncrypted {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		aead, ok := c.ring.keys[id]
		if !ok {
			return nil, fmt.Errorf("decrypt payload: key %q is not in the keyring", id)
		}
		data := p.GetData()
		if len(data) < aead.NonceSize()+aead.Overhead() {
			return nil, fmt.Errorf("decrypt payload: %d bytes is too short", len(data))
		}
		plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(id))
		if err != nil {
			return nil, fmt.Errorf("decrypt payload with key %q: %w", id, err)
		}
		var dp commonpb.Payload
		if err := proto.Unmarshal(plain, &dp); err != nil {
			return nil, fmt.Errorf("decrypt payload: %w", err)
		}
		out[i] = &dp
	}
	return out, nil
}

// DataConverter returns the default data converter with payloads encrypted by c.
func DataConverter(c *Codec) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// Apply makes a client encrypt payloads and failure messages with c.
func Apply(opts *client.Options, c *Codec) {
	dc := DataConverter(c)
	opts.DataConverter = dc
	opts.FailureConverter = temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter: dc, EncodeCommonAttributes: true,
	})
}
