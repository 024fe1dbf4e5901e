package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
)

// TLSOptions makes the connections of a run speak TLS. Any file set turns
// TLS on for every connection, whatever the URL's scheme says; a tls:// URL
// turns it on with none set, and the server's certificate is then checked
// against the system's roots.
type TLSOptions struct {
	// CAFile holds the PEM certificates that the server's certificate must
	// chain to.
	CAFile string
	// CertFile and KeyFile are a client certificate and its key, for servers
	// that verify clients; both or neither.
	CertFile string
	KeyFile  string
}

func (t TLSOptions) enabled() bool {
	return t.CAFile != "" || t.CertFile != ""
}

func (t TLSOptions) validate() error {
	if (t.CertFile == "") != (t.KeyFile == "") {
		return fmt.Errorf("%w: a client certificate needs both its certificate and its key file", ErrOptions)
	}
	return nil
}

// natsOptions asks nats.go for TLS. Both options load their files once here
// to fail early, and again at every (re)connect.
func (t TLSOptions) natsOptions() []nats.Option {
	var opts []nats.Option
	if t.CAFile != "" {
		opts = append(opts, nats.RootCAs(t.CAFile))
	}
	if t.CertFile != "" {
		opts = append(opts, nats.ClientCert(t.CertFile, t.KeyFile))
	}
	return opts
}

// clientConfig builds the crypto/tls configuration the idle-connection
// client hands to every tls.Client, verifying the server as host.
func (t TLSOptions) clientConfig(host string) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		b, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("bench: TLS CA file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("bench: TLS CA file %s holds no PEM certificate", t.CAFile)
		}
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("bench: TLS client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// CertFiles are the PEM files of a throwaway certificate authority and of
// one server certificate it signed.
type CertFiles struct {
	CA   string // the CA certificate
	Cert string // the server certificate
	Key  string // the server certificate's private key
}

// MakeCerts writes a new CA and a server certificate for 127.0.0.1, ::1 and
// localhost into dir as ca.pem, server-cert.pem and server-key.pem, both
// ECDSA P-256. The keys are new each time and the CA's key is never
// written, so nothing else can be signed by it. The paths it returns are
// absolute, so that a config naming them reads the same from any folder.
func MakeCerts(dir string) (CertFiles, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return CertFiles{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return CertFiles{}, err
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return CertFiles{}, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "canopy-bench CA", Organization: []string{"canopy-bench"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return CertFiles{}, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return CertFiles{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return CertFiles{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "localhost", Organization: []string{"canopy-bench"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		// Client auth as well, so that the same certificate can present
		// itself on a leaf link to a hub that verifies.
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return CertFiles{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return CertFiles{}, err
	}
	f := CertFiles{
		CA:   filepath.Join(dir, "ca.pem"),
		Cert: filepath.Join(dir, "server-cert.pem"),
		Key:  filepath.Join(dir, "server-key.pem"),
	}
	if err := writePEM(f.CA, "CERTIFICATE", caDER, 0o644); err != nil {
		return CertFiles{}, err
	}
	if err := writePEM(f.Cert, "CERTIFICATE", der, 0o644); err != nil {
		return CertFiles{}, err
	}
	if err := writePEM(f.Key, "PRIVATE KEY", keyDER, 0o600); err != nil {
		return CertFiles{}, err
	}
	return f, nil
}

// serial is a random 128-bit certificate serial number. Since Go 1.24
// crypto/rand does not fail, so neither does this.
func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	return n
}

func writePEM(path, kind string, der []byte, mode os.FileMode) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), mode)
}
