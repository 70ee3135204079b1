package clickhouse

import (
	"errors"
	"fmt"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/signindiag/signindiag/sinks"
)

// permanentCodes are server exceptions that a retry cannot fix: the
// schema and the statement disagree, or the user may not do this.
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

// classify wraps permanent server errors with sinks.ErrPermanent.
func classify(err error) error {
	var ex *ch.Exception
	if errors.As(err, &ex) {
		if name, ok := permanentCodes[ex.Code]; ok {
			return fmt.Errorf("%w (%s): %w", sinks.ErrPermanent, name, err)
		}
	}
	return err
}
