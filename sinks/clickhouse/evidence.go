package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// evidenceTop is how many values per dimension evidence lists.
const evidenceTop = 3

// Evidence implements sinks.Reader: the failures in (From, To] of a user
// or an IP, the distinct users among them, and the most frequent users,
// apps, IPs, devices, client apps and error codes. One query: a UNION ALL of one GROUP BY per
// dimension (no window functions, no tuple arrays: 18.16 lacks them).
func (s *Store) Evidence(ctx context.Context, q sinks.EvidenceQuery) (*schemas.Evidence, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	var where string
	var args []any
	switch {
	case q.UserKey != "":
		where, args = "user_key = ?", []any{strings.ToLower(q.UserKey)}
	case q.IP != "":
		// No index serves an IP alone: bound the scan by time partitions.
		where, args = "ip_address = ?", []any{q.IP}
	default:
		return nil, fmt.Errorf("%w: evidence needs a user or an IP", sinks.ErrInvalidQuery)
	}
	where += " AND is_failure = 1 AND created_at >= ? AND created_at <= ? AND created_ms > ? AND created_ms <= ?"
	args = append(args, q.From.Truncate(time.Second), q.To, q.From.UnixMilli(), q.To.UnixMilli())
	if len(q.Codes) > 0 {
		codes := make([]any, len(q.Codes))
		for i, c := range q.Codes {
			codes[i] = int32(c)
		}
		where += " AND error_code IN ?"
		args = append(args, ch.GroupSet{Value: codes})
	}
	// Distinct sign-ins only: a replayed row must not count twice.
	inner := fmt.Sprintf(`(SELECT category, id, user_key, user_principal_name, app_display_name, ip_address, device, client_app_used, error_code FROM %s
		WHERE %s ORDER BY category, id, created_ms DESC, version DESC LIMIT 1 BY category, id)`, s.table("signins"), where)
	dims := []struct{ name, expr string }{
		{"total", "''"}, {"app", "app_display_name"}, {"ip", "ip_address"}, {"device", "device"},
		{"client", "client_app_used"}, {"code", "toString(error_code)"}, {"user", "if(user_principal_name != '', user_principal_name, user_key)"},
	}
	parts := []string{fmt.Sprintf("SELECT 'users' AS dim, '' AS v, uniqExact(user_key) AS c FROM %s", inner)}
	allArgs := append([]any{}, args...)
	for _, d := range dims {
		parts = append(parts, fmt.Sprintf("SELECT '%s' AS dim, %s AS v, count() AS c FROM %s GROUP BY v", d.name, d.expr, inner))
		allArgs = append(allArgs, args...)
	}
	query := fmt.Sprintf("SELECT dim, v, c FROM (%s) WHERE v != '' OR dim IN ('total', 'users') ORDER BY dim, c DESC, v LIMIT %d BY dim",
		strings.Join(parts, " UNION ALL "), evidenceTop)
	rows, err := s.conn.Query(ctx, query, allArgs...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: evidence: %w", err)
	}
	defer rows.Close()
	ev := &schemas.Evidence{WindowStart: q.From, WindowEnd: q.To}
	for rows.Next() {
		var dim, v string
		var c uint64
		if err := rows.Scan(&dim, &v, &c); err != nil {
			return nil, fmt.Errorf("clickhouse: evidence: %w", err)
		}
		count := schemas.Count{Value: v, Count: int(c)}
		switch dim {
		case "total":
			ev.Failures = int(c)
		case "users":
			ev.DistinctUsers = int(c)
		case "user":
			ev.TopUsers = append(ev.TopUsers, count)
		case "app":
			ev.TopApps = append(ev.TopApps, count)
		case "ip":
			ev.TopIPs = append(ev.TopIPs, count)
		case "device":
			ev.TopDevices = append(ev.TopDevices, count)
		case "client":
			ev.TopClients = append(ev.TopClients, count)
		case "code":
			ev.TopCodes = append(ev.TopCodes, count)
		}
	}
	return ev, rows.Err()
}
