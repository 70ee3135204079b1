package kafkaconn_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/signindiag/signindiag/pipeline/kafkaconn"
	"github.com/signindiag/signindiag/pipeline/source/kafkatest"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    kafkaconn.Settings
		want string // "" = valid
	}{
		{"plaintext", kafkaconn.Settings{SecurityProtocol: "PLAINTEXT"}, ""},
		{"event hubs", kafkaconn.Settings{SecurityProtocol: "sasl_ssl", SASLMechanism: "PLAIN", SASLUsername: "$ConnectionString", SASLPassword: "Endpoint=sb://x"}, ""},
		{"unknown protocol", kafkaconn.Settings{SecurityProtocol: "TLS"}, "P_SECURITY_PROTOCOL: expected PLAINTEXT, SSL"},
		{"unknown mechanism", kafkaconn.Settings{SecurityProtocol: "SASL_SSL", SASLMechanism: "GSSAPI", SASLUsername: "u", SASLPassword: "p"}, "P_SASL_MECHANISM"},
		{"no user", kafkaconn.Settings{SecurityProtocol: "SASL_SSL", SASLMechanism: "PLAIN", SASLPassword: "p"}, "P_SASL_USERNAME"},
		{"no password", kafkaconn.Settings{SecurityProtocol: "SASL_PLAINTEXT", SASLMechanism: "PLAIN", SASLUsername: "u"}, "P_SASL_PASSWORD: expected a password"},
		{"both passwords", kafkaconn.Settings{SecurityProtocol: "SASL_SSL", SASLMechanism: "PLAIN", SASLUsername: "u", SASLPassword: "p", SASLPasswordFile: "/f"}, "not both"},
		{"cert without key", kafkaconn.Settings{SecurityProtocol: "SSL", TLSCertFile: "/c"}, "P_TLS_CERT_FILE"},
		{"tls file on plaintext", kafkaconn.Settings{SecurityProtocol: "PLAINTEXT", TLSCAFile: "/ca"}, "P_TLS_CA_FILE: is set but"},
	} {
		err := tc.s.Validate("P_")
		if tc.want == "" && err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

func TestNewReadsFiles(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := kafkaconn.New([]string{"b:1"}, kafkaconn.Settings{SecurityProtocol: "SASL_PLAINTEXT", SASLMechanism: "SCRAM-SHA-512",
		SASLUsername: "u", SASLPasswordFile: pw}, "P_")
	if err != nil || c.SASL == nil || c.SASL.Name() != "SCRAM-SHA-512" || c.TLS != nil || c.Transport() == nil {
		t.Fatalf("SCRAM over plaintext: %+v %v", c, err)
	}
	if _, err := kafkaconn.New(nil, kafkaconn.Settings{SecurityProtocol: "SSL", TLSCAFile: pw}, "P_"); err == nil ||
		!strings.Contains(err.Error(), "P_TLS_CA_FILE") {
		t.Errorf("a CA file without a certificate: %v", err)
	}
	if _, err := kafkaconn.New(nil, kafkaconn.Settings{SecurityProtocol: "SSL", TLSCAFile: filepath.Join(dir, "missing")}, "P_"); err == nil {
		t.Error("a missing CA file was accepted")
	}
	if c := kafkaconn.Plain([]string{"b:1"}); c.Transport() != nil || c.Secured() {
		t.Errorf("plaintext must keep kafka-go's default transport: %+v", c)
	}
}

// TestCheckSecuredBroker: the right settings connect, with PLAIN and both
// SCRAM variants; each wrong one fails fast with a line naming the cause.
func TestCheckSecuredBroker(t *testing.T) {
	sb := kafkatest.Secured(t)
	brokers, ca, pu, pp, su, sp := sb.Brokers, sb.CAFile, sb.PlainUser, sb.PlainPassword, sb.ScramUser, sb.ScramPassword
	ok := []kafkaconn.Settings{
		{SecurityProtocol: "SASL_SSL", SASLMechanism: "PLAIN", SASLUsername: pu, SASLPassword: pp, TLSCAFile: ca},
		{SecurityProtocol: "SASL_SSL", SASLMechanism: "SCRAM-SHA-256", SASLUsername: su, SASLPassword: sp, TLSCAFile: ca},
		{SecurityProtocol: "SASL_SSL", SASLMechanism: "SCRAM-SHA-512", SASLUsername: su, SASLPassword: sp, TLSCAFile: ca},
	}
	for _, s := range ok {
		c, err := kafkaconn.New(brokers, s, "P_")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Check(context.Background()); err != nil {
			t.Errorf("%s: %v", s.Describe(), err)
		}
		// An admin call through the shared transport authenticates too.
		if _, err := c.Client(10*time.Second).Metadata(context.Background(), &kafka.MetadataRequest{}); err != nil {
			t.Errorf("%s: metadata through the transport: %v", s.Describe(), err)
		}
	}
	const wrongPassword = "not-the-password-0815"
	bad := []struct {
		name string
		s    kafkaconn.Settings
		want string
	}{
		{"wrong PLAIN password", kafkaconn.Settings{SecurityProtocol: "SASL_SSL", SASLMechanism: "PLAIN", SASLUsername: pu,
			SASLPassword: wrongPassword, TLSCAFile: ca}, "authentication failed"},
		{"wrong SCRAM password", kafkaconn.Settings{SecurityProtocol: "SASL_SSL", SASLMechanism: "SCRAM-SHA-256", SASLUsername: su,
			SASLPassword: wrongPassword, TLSCAFile: ca}, "authentication failed"},
		{"untrusted certificate", kafkaconn.Settings{SecurityProtocol: "SASL_SSL", SASLMechanism: "PLAIN", SASLUsername: pu,
			SASLPassword: pp, TLSCAFile: kafkatest.UntrustedCA(t)}, "not signed by a trusted authority"},
		{"wrong server name", kafkaconn.Settings{SecurityProtocol: "SASL_SSL", SASLMechanism: "PLAIN", SASLUsername: pu,
			SASLPassword: pp, TLSCAFile: ca, TLSServerName: "kafka.example.org"}, "does not name the address"},
		{"plaintext client", kafkaconn.Settings{SecurityProtocol: "PLAINTEXT"}, "may expect TLS"},
		{"SASL without TLS", kafkaconn.Settings{SecurityProtocol: "SASL_PLAINTEXT", SASLMechanism: "PLAIN", SASLUsername: pu,
			SASLPassword: pp}, "may expect TLS"},
	}
	for _, tc := range bad {
		c, err := kafkaconn.New(brokers, tc.s, "P_")
		if err != nil {
			t.Fatal(err)
		}
		err = c.Check(context.Background())
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want one line containing %q", tc.name, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), wrongPassword) || strings.Contains(err.Error(), pp) {
			t.Errorf("%s: the error shows a password: %v", tc.name, err)
		}
		t.Logf("%s: %v", tc.name, err)
	}
}
