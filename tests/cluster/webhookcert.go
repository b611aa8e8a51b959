package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// runWebhookCert writes, into --dir, a CA and a serving certificate for the
// operators' admission webhooks, which up serves on loopback:
//
//	ca.crt ca.key    a CA named --ca-name (also its DNS SAN: the training operator's
//	                 cert rotator checks the CA it finds in its Secret against that name)
//	tls.crt tls.key  serving cert for 127.0.0.1 and --dns names (the Service names the
//	                 operators' own cert code expects), signed by that CA
//
// RSA 2048 keys in PKCS#1 ("RSA PRIVATE KEY"), as the rotator of
// open-policy-agent/cert-controller (used by the training operator) writes and reads them.
func runWebhookCert() int {
	fs := flag.NewFlagSet("webhook-cert", flag.ExitOnError)
	dir := fs.String("dir", "", "output directory (required)")
	caName := fs.String("ca-name", "training-operator-ca", "CA common name and DNS SAN")
	caOrg := fs.String("ca-organization", "training-operator", "CA organization")
	dns := fs.String("dns", "", "comma-separated DNS SANs of the serving cert")
	fs.Parse(os.Args[1:])
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "webhook-cert: --dir is required")
		return 2
	}
	if err := writeWebhookCert(*dir, *caName, *caOrg, *dns); err != nil {
		fmt.Fprintln(os.Stderr, "webhook-cert:", err)
		return 1
	}
	return 0
}

func writeWebhookCert(dir, caName, caOrg, dns string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	now := time.Now()
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	caDER, caCert, err := sign(&x509.Certificate{
		Subject:               pkix.Name{CommonName: caName, Organization: []string{caOrg}},
		DNSNames:              []string{caName},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, &caKey.PublicKey, nil, caKey)
	if err != nil {
		return err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	var names []string
	for _, n := range strings.Split(dns, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	cn := "127.0.0.1"
	if len(names) > 0 {
		cn = names[0]
	}
	der, _, err := sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: cn, Organization: []string{caOrg}},
		DNSNames:    names,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.Add(365 * 24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, &key.PublicKey, caCert, caKey)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name, typ string
		der       []byte
		mode      os.FileMode
	}{
		{"ca.crt", "CERTIFICATE", caDER, 0o644},
		{"ca.key", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(caKey), 0o600},
		{"tls.crt", "CERTIFICATE", der, 0o644},
		{"tls.key", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key), 0o600},
	} {
		if err := writePEM(filepath.Join(dir, f.name), f.typ, f.der, f.mode); err != nil {
			return err
		}
	}
	return nil
}
