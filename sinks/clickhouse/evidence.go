package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/sinks/evidence"
)

// Evidence implements sinks.Reader: the failures in (From, To] of a user
// or an IP, the distinct users among them, and the most frequent users,
// apps, IPs, devices, client apps and error codes. It reads the failures
// of that one subject and window from failure_facts (ordered by subject
// and time) once, and counts in Go: the latest version of each sign-in
// only, so a replayed row does not count twice.
func (s *Store) Evidence(ctx context.Context, q sinks.EvidenceQuery) (*schemas.Evidence, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	var kind, subject string
	switch {
	case q.UserKey != "":
		kind, subject = "user", strings.ToLower(q.UserKey)
	case q.IP != "":
		kind, subject = "ip", q.IP
	default:
		return nil, fmt.Errorf("%w: evidence needs a user or an IP", sinks.ErrInvalidQuery)
	}
	where := "subject_kind = ? AND subject = ? AND created_at >= ? AND created_at <= ? AND created_ms > ? AND created_ms <= ?"
	args := []any{kind, subject, q.From.Truncate(time.Second), q.To, q.From.UnixMilli(), q.To.UnixMilli()}
	if len(q.Codes) > 0 {
		codes := make([]any, len(q.Codes))
		for i, c := range q.Codes {
			codes[i] = int32(c)
		}
		where += " AND error_code IN ?"
		args = append(args, ch.GroupSet{Value: codes})
	}
	rows, err := s.conn.Query(ctx, fmt.Sprintf(
		`SELECT category, id, created_ms, version, user_key, user_principal_name, app_display_name, ip_address, device,
		        client_app_used, error_code FROM %s WHERE %s`, s.table("failure_facts"), where), args...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: evidence: %w", err)
	}
	defer rows.Close()
	type failure struct {
		ms      int64
		version uint64
		evidence.Failure
	}
	latest := map[versionKey]failure{}
	for rows.Next() {
		var k versionKey
		var f failure
		var code int32
		if err := rows.Scan(&k.category, &k.id, &f.ms, &f.version, &f.UserKey, &f.UPN, &f.App, &f.IP, &f.Device, &f.Client, &code); err != nil {
			return nil, fmt.Errorf("clickhouse: evidence: %w", err)
		}
		f.Code = int(code)
		if old, ok := latest[k]; !ok || f.ms > old.ms || f.ms == old.ms && f.version > old.version {
			latest[k] = f
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: evidence: %w", err)
	}
	tally := evidence.NewTally()
	for _, f := range latest {
		tally.Add(f.Failure)
	}
	return tally.Evidence(q.From, q.To), nil
}
