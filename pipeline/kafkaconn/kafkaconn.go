// Package kafkaconn builds the connections of every Kafka client the binary
// opens (consumer groups, readers, writers, admin and metadata calls) from
// one description of the cluster: its brokers, TLS and SASL. Azure Event
// Hubs' Kafka endpoint needs SASL_SSL with PLAIN; self-run clusters often
// use SCRAM; the local test broker is plaintext. A plaintext Cluster leaves
// kafka-go's defaults untouched.
package kafkaconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// Security protocols, as Kafka's own clients name them (security.protocol).
const (
	Plaintext     = "PLAINTEXT"
	SSL           = "SSL"
	SASLPlaintext = "SASL_PLAINTEXT"
	SASLSSL       = "SASL_SSL"
)

// SASL mechanisms.
const (
	MechanismPlain       = "PLAIN"
	MechanismSCRAMSHA256 = "SCRAM-SHA-256"
	MechanismSCRAMSHA512 = "SCRAM-SHA-512"
)

// Settings describe how to reach a cluster, as configured. Environment
// names are relative to the cluster's prefix (SIGNINDIAG_KAFKA_ or
// SIGNINDIAG_INTERNAL_KAFKA_).
type Settings struct {
	SecurityProtocol string `env:"SECURITY_PROTOCOL, default=PLAINTEXT"`
	SASLMechanism    string `env:"SASL_MECHANISM, default=PLAIN"`
	SASLUsername     string `env:"SASL_USERNAME"`
	// SASLPassword or SASLPasswordFile (whose content, without a trailing
	// newline, is the password): a file keeps the secret out of the
	// process environment.
	SASLPassword     string `env:"SASL_PASSWORD"`
	SASLPasswordFile string `env:"SASL_PASSWORD_FILE"`
	// TLSCAFile: PEM certificates trusted for the brokers' certificates;
	// empty means the system's roots.
	TLSCAFile string `env:"TLS_CA_FILE"`
	// TLSCertFile and TLSKeyFile: a client certificate, for brokers that
	// authenticate clients with TLS.
	TLSCertFile string `env:"TLS_CERT_FILE"`
	TLSKeyFile  string `env:"TLS_KEY_FILE"`
	// TLSServerName overrides the name checked in the brokers'
	// certificates (by default the host of the address dialled).
	TLSServerName string `env:"TLS_SERVER_NAME"`
}

// Protocol is the security protocol, upper-cased.
func (s Settings) Protocol() string { return strings.ToUpper(strings.TrimSpace(s.SecurityProtocol)) }

// UsesTLS reports whether the protocol is SSL or SASL_SSL.
func (s Settings) UsesTLS() bool { p := s.Protocol(); return p == SSL || p == SASLSSL }

// UsesSASL reports whether the protocol is SASL_PLAINTEXT or SASL_SSL.
func (s Settings) UsesSASL() bool { p := s.Protocol(); return p == SASLPlaintext || p == SASLSSL }

// Validate names every setting that is wrong; prefix is the variables'
// prefix, e.g. SIGNINDIAG_KAFKA_. It reads no file.
func (s Settings) Validate(prefix string) error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", prefix, name, fmt.Sprintf(format, args...)))
	}
	switch s.Protocol() {
	case Plaintext, SSL, SASLPlaintext, SASLSSL:
	default:
		bad("SECURITY_PROTOCOL", "expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, got %q", s.SecurityProtocol)
	}
	if s.UsesSASL() {
		switch strings.ToUpper(s.SASLMechanism) {
		case MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512:
		default:
			bad("SASL_MECHANISM", "expected PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, got %q", s.SASLMechanism)
		}
		if s.SASLUsername == "" {
			bad("SASL_USERNAME", "expected a user name with %s (for Azure Event Hubs: $ConnectionString), got nothing", s.Protocol())
		}
		if s.SASLPassword != "" && s.SASLPasswordFile != "" {
			bad("SASL_PASSWORD_FILE", "set either %sSASL_PASSWORD or %sSASL_PASSWORD_FILE, not both", prefix, prefix)
		} else if s.SASLPassword == "" && s.SASLPasswordFile == "" {
			bad("SASL_PASSWORD", "expected a password (or %sSASL_PASSWORD_FILE) with %s, got nothing", prefix, s.Protocol())
		}
	}
	if (s.TLSCertFile == "") != (s.TLSKeyFile == "") {
		bad("TLS_CERT_FILE", "a client certificate needs both %sTLS_CERT_FILE and %sTLS_KEY_FILE", prefix, prefix)
	}
	if !s.UsesTLS() {
		for name, v := range map[string]string{"TLS_CA_FILE": s.TLSCAFile, "TLS_CERT_FILE": s.TLSCertFile, "TLS_SERVER_NAME": s.TLSServerName} {
			if v != "" {
				bad(name, "is set but %sSECURITY_PROTOCOL is %s; TLS settings need SSL or SASL_SSL", prefix, s.Protocol())
			}
		}
	}
	return errors.Join(errs...)
}

// Describe says how the cluster is reached, for logs and errors: the
// protocol, mechanism and user, never the password.
func (s Settings) Describe() string {
	d := s.Protocol()
	if s.UsesSASL() {
		d += fmt.Sprintf(" %s user %q", strings.ToUpper(s.SASLMechanism), s.SASLUsername)
	}
	return d
}

// Cluster is one Kafka cluster and how to reach it. The zero value of the
// security fields is plaintext without authentication.
type Cluster struct {
	Brokers []string
	TLS     *tls.Config
	SASL    sasl.Mechanism
	// Desc says how the cluster is reached (Settings.Describe), in errors.
	Desc string
	// Prefix of the settings' variables (SIGNINDIAG_KAFKA_), in hints.
	Prefix string

	// transport is shared by every Client and Writer of the cluster, so
	// they share its connection pool; nil when plaintext (kafka-go's
	// default transport).
	transport *kafka.Transport
}

// Plain is a plaintext cluster without authentication.
func Plain(brokers []string) Cluster { return Cluster{Brokers: brokers, Desc: Plaintext} }

// New builds a Cluster from settings: it reads the CA, certificate, key and
// password files. prefix names the variables in errors.
func New(brokers []string, s Settings, prefix string) (Cluster, error) {
	if err := s.Validate(prefix); err != nil {
		return Cluster{}, err
	}
	c := Cluster{Brokers: brokers, Desc: s.Describe(), Prefix: prefix}
	if s.UsesTLS() {
		cfg, err := tlsConfig(s, prefix)
		if err != nil {
			return Cluster{}, err
		}
		c.TLS = cfg
	}
	if s.UsesSASL() {
		password := s.SASLPassword
		if s.SASLPasswordFile != "" {
			b, err := os.ReadFile(s.SASLPasswordFile)
			if err != nil {
				return Cluster{}, fmt.Errorf("%sSASL_PASSWORD_FILE: %w", prefix, err)
			}
			password = strings.TrimRight(string(b), "\r\n")
			if password == "" {
				return Cluster{}, fmt.Errorf("%sSASL_PASSWORD_FILE: %s is empty", prefix, s.SASLPasswordFile)
			}
		}
		mech, err := mechanism(strings.ToUpper(s.SASLMechanism), s.SASLUsername, password)
		if err != nil {
			return Cluster{}, fmt.Errorf("%sSASL_MECHANISM: %w", prefix, err)
		}
		c.SASL = mech
	}
	if c.TLS != nil || c.SASL != nil {
		c.transport = &kafka.Transport{TLS: c.TLS, SASL: c.SASL, DialTimeout: DialTimeout}
	}
	return c, nil
}

// DialTimeout bounds a connection's set-up: TCP, TLS handshake and SASL.
const DialTimeout = 10 * time.Second

func mechanism(name, user, password string) (sasl.Mechanism, error) {
	switch name {
	case MechanismPlain:
		return plain.Mechanism{Username: user, Password: password}, nil
	case MechanismSCRAMSHA256:
		return scram.Mechanism(scram.SHA256, user, password)
	case MechanismSCRAMSHA512:
		return scram.Mechanism(scram.SHA512, user, password)
	}
	return nil, fmt.Errorf("unknown mechanism %q", name)
}

func tlsConfig(s Settings, prefix string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: s.TLSServerName}
	if s.TLSCAFile != "" {
		pem, err := os.ReadFile(s.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("%sTLS_CA_FILE: %w", prefix, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%sTLS_CA_FILE: %s holds no PEM certificate", prefix, s.TLSCAFile)
		}
		cfg.RootCAs = pool
	}
	if s.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.TLSCertFile, s.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("%sTLS_CERT_FILE/%sTLS_KEY_FILE: %w", prefix, prefix, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// Transport is the round tripper of the cluster's Clients and Writers; nil
// (kafka-go's default) when plaintext. It is an interface value that is
// really nil then, so it can be assigned to kafka.Writer.Transport.
func (c Cluster) Transport() kafka.RoundTripper {
	if c.transport == nil {
		return nil
	}
	return c.transport
}

// Client is an admin/metadata client of the cluster; timeout 0 means
// kafka-go's default.
func (c Cluster) Client(timeout time.Duration) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(c.Brokers...), Timeout: timeout, Transport: c.Transport()}
}

// CloseIdleConnections closes the idle broker connections of the
// cluster's own transport (a secured cluster's; a plain one shares
// kafka.DefaultTransport). The binary's clusters live as long as it does;
// a test that builds one closes them when done.
func (c Cluster) CloseIdleConnections() {
	if c.transport != nil {
		c.transport.CloseIdleConnections()
	}
}

// Dialer is what consumer groups and readers connect with.
func (c Cluster) Dialer() *kafka.Dialer {
	return &kafka.Dialer{Timeout: DialTimeout, DualStack: true, TLS: c.TLS, SASLMechanism: c.SASL}
}

// Secured reports whether TLS or SASL is in use.
func (c Cluster) Secured() bool { return c.TLS != nil || c.SASL != nil }
