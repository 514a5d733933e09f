package embedded

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"go.temporal.io/server/common/config"
)

// internodeName is the name every internal connection verifies the server's certificate
// against, in place of the address it dials: the system workers dial the internal frontend
// through a membership URL, not a host. No resolver answers for it.
const internodeName = "internode.embedded.invalid"

// internodeValidity is how long the certificates are valid. The server never reloads them, so
// they must outlive the process; the next start makes new ones.
const internodeValidity = 10 * 365 * 24 * time.Hour

// internodeTLS is the mutual TLS of the server's internal traffic under Auth: a CA made at each
// start, and one certificate it signs that every service presents both as a server and as a
// client. Both keys live only in this process's memory, so only the process gets in.
type internodeTLS struct {
	caPEM, certPEM, keyPEM []byte
}

// newInternodeTLS makes a new CA and the certificate it signs.
func newInternodeTLS() (*internodeTLS, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	ca := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "embedded Temporal internode CA"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(internodeValidity),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := sign(ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	if ca, err = x509.ParseCertificate(caDER); err != nil {
		return nil, err
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	certDER, err := sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: internodeName},
		DNSNames:    []string{internodeName},
		NotBefore:   ca.NotBefore,
		NotAfter:    ca.NotAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &internodeTLS{
		caPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// sign issues template, signed by parent's key, with a random serial number.
func sign(template, parent *x509.Certificate, pub *ecdsa.PublicKey, parentKey *ecdsa.PrivateKey) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	template.SerialNumber = serial
	return x509.CreateCertificate(rand.Reader, template, parent, pub, parentKey)
}

// group is the server's internode TLS configuration: history, matching, the worker service and
// the internal frontend listen with it and require the CA's certificate of every caller, and
// each, the system workers included, calls the others with it.
func (t *internodeTLS) group() config.GroupTLS {
	b64 := base64.StdEncoding.EncodeToString
	return config.GroupTLS{
		Server: config.ServerTLS{
			CertData: b64(t.certPEM), KeyData: b64(t.keyPEM),
			ClientCAData: []string{b64(t.caPEM)}, RequireClientAuth: true,
		},
		Client: config.ClientTLS{ServerName: internodeName, RootCAData: []string{b64(t.caPEM)}},
	}
}

// client is the TLS of this package's own calls to the internal frontend.
func (t *internodeTLS) client() (*tls.Config, error) {
	cert, err := tls.X509KeyPair(t.certPEM, t.keyPEM)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(t.caPEM) {
		return nil, fmt.Errorf("the internode CA certificate does not parse")
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      roots,
		ServerName:   internodeName,
		MinVersion:   tls.VersionTLS12,
	}, nil
}
