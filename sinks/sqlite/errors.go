package sqlite

import (
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/signindiag/signindiag/sinks"
)

// permanentCodes are primary result codes no retry fixes: the schema and
// the statement disagree (SQLITE_ERROR: no such table or column), the
// file cannot be written or is not a database.
var permanentCodes = map[int]string{
	sqlite3.SQLITE_ERROR:    "SQLITE_ERROR",
	sqlite3.SQLITE_PERM:     "SQLITE_PERM",
	sqlite3.SQLITE_READONLY: "SQLITE_READONLY",
	sqlite3.SQLITE_CORRUPT:  "SQLITE_CORRUPT",
	sqlite3.SQLITE_NOTADB:   "SQLITE_NOTADB",
	sqlite3.SQLITE_CANTOPEN: "SQLITE_CANTOPEN",
	sqlite3.SQLITE_AUTH:     "SQLITE_AUTH",
	sqlite3.SQLITE_SCHEMA:   "SQLITE_SCHEMA",
}

// rowCodes are about some rows' values: the batch fails again as it is,
// not without them (a constraint a row breaks, a value too large).
var rowCodes = map[int]string{
	sqlite3.SQLITE_CONSTRAINT: "SQLITE_CONSTRAINT",
	sqlite3.SQLITE_TOOBIG:     "SQLITE_TOOBIG",
	sqlite3.SQLITE_MISMATCH:   "SQLITE_MISMATCH",
	sqlite3.SQLITE_RANGE:      "SQLITE_RANGE",
}

// classify wraps SQLite's errors as the ClickHouse store does its
// server's: permanent ones with sinks.ErrPermanent, those caused by some
// rows with sinks.ErrRejected. Others (SQLITE_BUSY, SQLITE_FULL,
// SQLITE_IOERR, a cancelled context) stay transient: waiting may fix them.
func classify(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	code := se.Code() & 0xff // the primary code of an extended one
	if name, ok := permanentCodes[code]; ok {
		return fmt.Errorf("%w (%s): %w", sinks.ErrPermanent, name, err)
	}
	if name, ok := rowCodes[code]; ok {
		return fmt.Errorf("%w (%s): %w", sinks.ErrRejected, name, err)
	}
	return err
}
