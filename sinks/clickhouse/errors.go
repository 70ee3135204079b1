package clickhouse

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"

	"github.com/signindiag/signindiag/sinks"
)

// permanentCodes are server exceptions that a retry cannot fix: the
// schema and the statement disagree, or the user may not do this. Every
// row of every batch would meet them, so the pipeline stops on them
// rather than splitting a batch to find culprits that do not exist.
var permanentCodes = map[int32]string{
	16:  "NO_SUCH_COLUMN_IN_TABLE",
	47:  "UNKNOWN_IDENTIFIER",
	53:  "TYPE_MISMATCH",
	60:  "UNKNOWN_TABLE",
	62:  "SYNTAX_ERROR",
	81:  "UNKNOWN_DATABASE",
	164: "READONLY",
	192: "UNKNOWN_USER",
	193: "WRONG_PASSWORD",
	194: "REQUIRED_PASSWORD",
	195: "IP_ADDRESS_NOT_ALLOWED",
	497: "ACCESS_DENIED",
	516: "AUTHENTICATION_FAILED",
}

// rowCodes are server exceptions about the values of some rows: the batch
// fails again as it is, but not without those rows.
var rowCodes = map[int32]string{
	6:   "CANNOT_PARSE_TEXT",
	27:  "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
	38:  "CANNOT_PARSE_DATE",
	41:  "CANNOT_PARSE_DATETIME",
	69:  "ARGUMENT_OUT_OF_BOUND",
	70:  "CANNOT_CONVERT_TYPE",
	72:  "CANNOT_PARSE_NUMBER",
	117: "INCORRECT_DATA",
	131: "TOO_LARGE_STRING_SIZE",
	321: "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
	349: "CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN",
	469: "VIOLATED_CONSTRAINT",
}

// classify wraps the server's exceptions: permanent ones with
// sinks.ErrPermanent, those caused by some rows' values with
// sinks.ErrRejected. Others (network, timeouts, overload) stay transient.
func classify(err error) error {
	var ex *ch.Exception
	if errors.As(err, &ex) {
		if name, ok := permanentCodes[ex.Code]; ok {
			return fmt.Errorf("%w (%s): %w", sinks.ErrPermanent, name, err)
		}
		if name, ok := rowCodes[ex.Code]; ok {
			return fmt.Errorf("%w (%s): %w", sinks.ErrRejected, name, err)
		}
	}
	return err
}

// classifyAppend classifies an error of filling a batch on the client. A
// Go type the column cannot take, or a wrong number of values, is a
// mismatch between the code and the schema that every row meets:
// permanent. Anything else is about the row's value: rejected.
func classifyAppend(err error) error {
	var conv *column.ColumnConverterError
	var block *proto.BlockError
	if errors.As(err, &conv) || (errors.As(err, &block) && block.Op == "Append") {
		return fmt.Errorf("%w: %w", sinks.ErrPermanent, err)
	}
	if errors.Is(err, sinks.ErrRejected) {
		return err
	}
	return fmt.Errorf("%w: %w", sinks.ErrRejected, err)
}

// A DateTime column holds seconds since the epoch in a UInt32, so it
// covers 1970-01-01 to 2106-02-07 06:28:15 UTC. The driver converts a
// time outside that range without a word (a sign-in of 2200 would be
// stored as one of 2065, in the wrong partition), so the writer refuses
// such rows itself, before anything is sent.
var maxDateTime = time.Unix(math.MaxUint32, 0).UTC()

// checkDateTime rejects a time a DateTime column cannot hold. The zero
// time is let through: the driver stores it as the epoch, as it always
// has.
func checkDateTime(what, id, column string, t time.Time) error {
	if t.IsZero() || (t.Unix() >= 0 && !t.After(maxDateTime)) {
		return nil
	}
	return fmt.Errorf("%w: %s %q: %s %s is outside what a DateTime column holds (1970-01-01 to %s)",
		sinks.ErrRejected, what, id, column, t.Format(time.RFC3339), maxDateTime.Format(time.RFC3339))
}

// checkRows rejects a batch holding a row that would be stored wrongly,
// before any table is written, so a rejected batch leaves nothing behind.
func checkRows(b *sinks.Batch) error {
	for i := range b.SignIns {
		si := &b.SignIns[i].SignIn
		if err := checkDateTime("sign-in", si.ID, "created_at", si.CreatedDateTime); err != nil {
			return err
		}
	}
	for i := range b.Flags {
		if err := checkDateTime("flag", b.Flags[i].ID, "flagged_at", b.Flags[i].FlaggedAt); err != nil {
			return err
		}
	}
	for i := range b.Findings {
		if err := checkDateTime("finding", b.Findings[i].ID, "occurred_at", b.Findings[i].OccurredAt); err != nil {
			return err
		}
	}
	for i := range b.IPFailures {
		if err := checkDateTime("IP failure", b.IPFailures[i].Identity, "created_at", b.IPFailures[i].At); err != nil {
			return err
		}
	}
	for i := range b.Incidents {
		r := &b.Incidents[i]
		for _, c := range []struct {
			column string
			at     time.Time
		}{{"start_at", r.Start}, {"first_at", r.First}, {"last_at", r.Last}} {
			if err := checkDateTime("incident", r.ID, c.column, c.at); err != nil {
				return err
			}
		}
	}
	return nil
}

// IsPermanent reports whether connecting failed for a reason that waiting
// does not fix: the server refused the user or password, or the TLS
// handshake failed on the certificate. Start-up then stops at once with
// the cause instead of retrying.
func IsPermanent(err error) bool {
	var ex *ch.Exception
	if errors.As(err, &ex) {
		switch ex.Code {
		case 192, 193, 194, 195, 497, 516:
			return true
		}
	}
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var record tls.RecordHeaderError
	return errors.As(err, &unknownCA) || errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &record)
}
