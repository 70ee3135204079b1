package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/sinks/evidence"
)

// Evidence implements sinks.Reader: the failures in (From, To] of a user
// or an IP, the distinct users among them, and the most frequent users,
// apps, IPs, devices, client apps and error codes. The store holds the
// latest version of each sign-in only, so a replay never counts twice.
func (s *Store) Evidence(ctx context.Context, q sinks.EvidenceQuery) (*schemas.Evidence, error) {
	var where string
	var args []any
	switch {
	case q.UserKey != "":
		user := strings.ToLower(q.UserKey)
		where, args = "user_h = ? AND user_key = ?", []any{hashKey(user), user}
	case q.IP != "":
		// Through signins_failure_facts: the failures of the window, whose
		// entries hold the IP.
		where, args = "ip_address = ?", []any{q.IP}
	default:
		return nil, fmt.Errorf("%w: evidence needs a user or an IP", sinks.ErrInvalidQuery)
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	where += " AND created_ms > ? AND created_ms <= ? AND is_failure = 1"
	args = append(args, q.From.UnixMilli(), q.To.UnixMilli())
	if len(q.Codes) > 0 {
		where += fmt.Sprintf(" AND error_code IN (%s)", marks(len(q.Codes)))
		for _, c := range q.Codes {
			args = append(args, c)
		}
	}
	rows, err := s.r.QueryContext(ctx, fmt.Sprintf(`SELECT user_key, upn, app_display_name, ip_address, device, client_app_used,
		error_code FROM signins WHERE %s`, where), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: evidence: %w", err)
	}
	defer rows.Close()
	tally := evidence.NewTally()
	for rows.Next() {
		var f evidence.Failure
		if err := rows.Scan(&f.UserKey, &f.UPN, &f.App, &f.IP, &f.Device, &f.Client, &f.Code); err != nil {
			return nil, fmt.Errorf("sqlite: evidence: %w", err)
		}
		tally.Add(f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: evidence: %w", err)
	}
	return tally.Evidence(q.From, q.To), nil
}
