package conf

// Temporary: replaced by the tlsconf branch's ServerConfig/ClientConfig.

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
)

func (t *TLS) ServerConfig() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, DynamicRecordSizingDisabled: true}
	if t.Verify || t.VerifyAndMap {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		if t.CAFile != "" {
			pool, err := loadPool(t.CAFile)
			if err != nil {
				return nil, err
			}
			cfg.ClientCAs = pool
		}
	}
	return cfg, nil
}

func (t *TLS) ClientConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, DynamicRecordSizingDisabled: true, InsecureSkipVerify: t.Insecure, ServerName: t.ServerName}
	if t.CAFile != "" {
		pool, err := loadPool(t.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func loadPool(f string) (*x509.CertPool, error) {
	b, err := os.ReadFile(f)
	if err != nil {
		return nil, err
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, errors.New("no certificates in " + f)
	}
	return p, nil
}
