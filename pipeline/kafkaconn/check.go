package kafkaconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
)

// CheckTimeout bounds the start-up check of a cluster: a wrong password, an
// untrusted certificate or a listener speaking another protocol fails
// within it instead of leaving the consumers retrying for ever.
const CheckTimeout = 15 * time.Second

// Check connects to the brokers one after the other as the clients will
// (TCP, TLS handshake, SASL authentication) and asks for the cluster's
// metadata. It returns nil at the first broker that answers, otherwise
// one line that says what went wrong and what to check, naming the broker
// and how it was reached (never the password).
func (c Cluster) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, CheckTimeout)
	defer cancel()
	if len(c.Brokers) == 0 {
		return errors.New("kafka: no broker configured")
	}
	var first error
	for _, b := range c.Brokers {
		err := c.checkBroker(ctx, b)
		if err == nil {
			return nil
		}
		if first == nil {
			first = fmt.Errorf("kafka %s (%s): %s: %w", b, c.Desc, Explain(err, c), err)
		}
	}
	return first
}

func (c Cluster) checkBroker(ctx context.Context, broker string) error {
	conn, err := c.Dialer().DialContext(ctx, "tcp", broker)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	_, err = conn.Brokers()
	return err
}

// Explain names the likely cause of a connection error, in words an
// operator can act on.
func Explain(err error, c Cluster) string {
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var recordHeader tls.RecordHeaderError
	var netErr net.Error
	switch {
	case errors.Is(err, kafka.SASLAuthenticationFailed):
		return "authentication failed: check the SASL user name and password (for Azure Event Hubs: user $ConnectionString, password the namespace's connection string)"
	case errors.Is(err, kafka.UnsupportedSASLMechanism):
		return "the broker does not accept this SASL mechanism: check " + c.Prefix + "SASL_MECHANISM"
	case errors.Is(err, kafka.IllegalSASLState):
		return "the broker refused the SASL exchange: check " + c.Prefix + "SECURITY_PROTOCOL and " + c.Prefix + "SASL_MECHANISM"
	case errors.As(err, &unknownCA):
		return "the broker's certificate is not signed by a trusted authority: set " + c.Prefix + "TLS_CA_FILE to the CA that signed it"
	case errors.As(err, &hostname):
		return "the broker's certificate does not name the address dialled: check the broker address or set " + c.Prefix + "TLS_SERVER_NAME"
	case errors.As(err, &invalid):
		return "the broker's certificate is invalid (expired or not for a server)"
	case errors.As(err, &recordHeader):
		return "the listener does not speak TLS: use " + c.Prefix + "SECURITY_PROTOCOL PLAINTEXT or SASL_PLAINTEXT, or the broker's TLS port"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: nothing listens at this address"
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		return fmt.Sprintf("no answer within %s: check the address, the firewall and that the listener's protocol matches "+c.Prefix+"SECURITY_PROTOCOL", CheckTimeout)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		strings.Contains(err.Error(), "connection reset"):
		if c.TLS == nil {
			return "the broker closed the connection: its listener may expect TLS (" + c.Prefix + "SECURITY_PROTOCOL SSL or SASL_SSL) or SASL"
		}
		return "the broker closed the connection: check that the listener's protocol matches " + c.Prefix + "SECURITY_PROTOCOL"
	}
	return "cannot connect"
}
