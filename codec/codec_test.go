package codec

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
)

func key(t *testing.T) string {
	t.Helper()
	k, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keyring(t *testing.T, active string, keys map[string]string) *Keyring {
	t.Helper()
	b, err := json.Marshal(keyringFile{Active: active, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseKeyring(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestEncryptsAndDecrypts(t *testing.T) {
	dc := DataConverter(New(keyring(t, "k1", map[string]string{"k1": key(t)})))
	p, err := dc.ToPayload(map[string]string{"id": "NBKR-2020-000331", "exporter": "Ningbo Kangrun"})
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Metadata[converter.MetadataEncoding]) != EncodingEncrypted || string(p.Metadata[MetadataKeyID]) != "k1" {
		t.Fatalf("metadata %v", p.Metadata)
	}
	if bytes.Contains(p.Data, []byte("NBKR")) || bytes.Contains(p.Data, []byte("Ningbo")) {
		t.Fatal("ciphertext contains the plaintext")
	}
	var back map[string]string
	if err := dc.FromPayload(p, &back); err != nil {
		t.Fatal(err)
	}
	if back["id"] != "NBKR-2020-000331" {
		t.Fatalf("decoded %v", back)
	}
	p2, err := dc.ToPayload(map[string]string{"id": "NBKR-2020-000331", "exporter": "Ningbo Kangrun"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(p.Data, p2.Data) {
		t.Fatal("same ciphertext twice: the nonce is not random")
	}
}

func TestRotationKeepsOldPayloadsReadable(t *testing.T) {
	may, nov := key(t), key(t)
	enc, err := New(keyring(t, "2026-05", map[string]string{"2026-05": may})).
		Encode([]*commonpb.Payload{{Data: []byte(`"before rotation"`)}})
	if err != nil {
		t.Fatal(err)
	}
	rotated := New(keyring(t, "2026-11", map[string]string{"2026-05": may, "2026-11": nov}))
	dec, err := rotated.Decode(enc)
	if err != nil {
		t.Fatalf("old payload after rotation: %v", err)
	}
	if string(dec[0].Data) != `"before rotation"` {
		t.Fatalf("decoded %q", dec[0].Data)
	}
	fresh, err := rotated.Encode([]*commonpb.Payload{{Data: []byte(`"after"`)}})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(fresh[0].Metadata[MetadataKeyID]); got != "2026-11" {
		t.Fatalf("new payloads use key %q, want the active one", got)
	}
	retired := New(keyring(t, "2026-11", map[string]string{"2026-11": nov}))
	if _, err := retired.Decode(enc); err == nil || !strings.Contains(err.Error(), `"2026-05" is not in the keyring`) {
		t.Fatalf("err = %v", err)
	}
}

func TestTamperedAndForeignPayloads(t *testing.T) {
	c := New(keyring(t, "k1", map[string]string{"k1": key(t)}))
	enc, err := c.Encode([]*commonpb.Payload{{Data: []byte(`"x"`)}})
	if err != nil {
		t.Fatal(err)
	}
	enc[0].Data[len(enc[0].Data)-1] ^= 1
	if _, err := c.Decode(enc); err == nil {
		t.Fatal("a tampered payload decrypted")
	}
	short := &commonpb.Payload{Metadata: map[string][]byte{converter.MetadataEncoding: []byte(EncodingEncrypted), MetadataKeyID: []byte("k1")}, Data: []byte{1, 2}}
	if _, err := c.Decode([]*commonpb.Payload{short}); err == nil {
		t.Fatal("a truncated payload decrypted")
	}
	plain := &commonpb.Payload{Metadata: map[string][]byte{converter.MetadataEncoding: []byte("json/plain")}, Data: []byte(`"clear"`)}
	out, err := c.Decode([]*commonpb.Payload{plain})
	if err != nil || out[0] != plain {
		t.Fatalf("an unencrypted payload was not passed through: %v", err)
	}
}

func TestKeyringErrorsNameTheField(t *testing.T) {
	for in, want := range map[string]string{
		`{"active":"a","keys":{}}`:                        "keys: at least one key",
		`{"active":"a","keys":{"a":"!!"}}`:                "keys.a: not base64",
		`{"active":"a","keys":{"a":"AAAA"}}`:              "keys.a: 3 bytes, AES-256 needs 32",
		`{"active":"b","keys":{"a":"` + key(t) + `"}}`:    `active: "b" is not one of the keys`,
		`{"active":"a","keys":{"a":"x"},"colour":"blue"}`: `unknown field "colour"`,
	} {
		if _, err := ParseKeyring([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", in, err, want)
		}
	}
	if _, err := LoadKeyring("/nonexistent/keys.json"); err == nil {
		t.Error("a missing keyring file was accepted")
	}
}

func TestServerChecksOriginAndToken(t *testing.T) {
	c := New(keyring(t, "k1", map[string]string{"k1": key(t)}))
	enc, err := c.Encode([]*commonpb.Payload{{Metadata: map[string][]byte{converter.MetadataEncoding: []byte("json/plain")}, Data: []byte(`"NBKR-2020-000331"`)}})
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(map[string]any{"payloads": []map[string]any{{"metadata": enc[0].Metadata, "data": enc[0].Data}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewHandler(c, ServerOptions{Origins: []string{"http://localhost:8233"}, Token: "s3cret"}))
	defer srv.Close()
	call := func(method, origin, token string) (*http.Response, string) {
		req, _ := http.NewRequest(method, srv.URL+"/decode", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if err := resp.Body.Close(); err != nil {
			t.Fatal(err)
		}
		return resp, string(b)
	}
	resp, out := call(http.MethodPost, "http://localhost:8233", "s3cret")
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "http://localhost:8233" {
		t.Fatalf("UI origin: %d %v", resp.StatusCode, resp.Header)
	}
	if !strings.Contains(out, "json/plain") && !strings.Contains(out, "anNvbi9wbGFpbg") {
		t.Fatalf("decode did not return the plaintext payload: %s", out)
	}
	if resp, _ := call(http.MethodPost, "http://evil.example", "s3cret"); resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign origin: %d", resp.StatusCode)
	}
	if resp, _ := call(http.MethodPost, "http://localhost:8233", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
	if resp, _ := call(http.MethodPost, "", "wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", resp.StatusCode)
	}
	if resp, _ := call(http.MethodPost, "", "s3cret"); resp.StatusCode != 200 {
		t.Fatalf("CLI without origin: %d", resp.StatusCode)
	}
	if resp, _ := call(http.MethodOptions, "http://localhost:8233", ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("preflight: %d", resp.StatusCode)
	}
}

// TestServerAuthorizeDecidesEachRequest: with Authorize, a refused request gets its status and
// reason and no payload; an allowed one is decoded; a preflight is not asked for a token.
func TestServerAuthorizeDecidesEachRequest(t *testing.T) {
	c := New(keyring(t, "k1", map[string]string{"k1": key(t)}))
	srv := httptest.NewServer(NewHandler(c, ServerOptions{Origins: []string{"http://localhost:8233"},
		Authorize: func(r *http.Request) (int, string) {
			if r.Header.Get("Authorization") == "Bearer staff" {
				return 0, ""
			}
			return http.StatusForbidden, "exporter-1 (exporter) may not use this service"
		}}))
	defer srv.Close()
	post := func(token string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/decode", strings.NewReader(`{"payloads":[]}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("staff"); code != http.StatusOK {
		t.Errorf("staff: %d %s", code, body)
	}
	if code, body := post("exporter"); code != http.StatusForbidden || !strings.Contains(body, "may not use this service") {
		t.Errorf("exporter: %d %s", code, body)
	}
	req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/decode", nil)
	req.Header.Set("Origin", "http://localhost:8233")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("preflight: %d", resp.StatusCode)
	}
}
