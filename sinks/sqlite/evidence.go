package sqlite

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// evidenceTop is how many values per dimension evidence lists.
const evidenceTop = 3

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
	dims := map[string]map[string]int{}
	add := func(dim, v string) {
		if v == "" {
			return
		}
		if dims[dim] == nil {
			dims[dim] = map[string]int{}
		}
		dims[dim][v]++
	}
	users := map[string]bool{}
	failures := 0
	for rows.Next() {
		var user, upn, app, ip, device, client string
		var code int
		if err := rows.Scan(&user, &upn, &app, &ip, &device, &client, &code); err != nil {
			return nil, fmt.Errorf("sqlite: evidence: %w", err)
		}
		failures++
		users[user] = true
		add("app", app)
		add("ip", ip)
		add("device", device)
		add("client", client)
		add("code", strconv.Itoa(code))
		if upn != "" {
			add("user", upn)
		} else {
			add("user", user)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: evidence: %w", err)
	}
	return &schemas.Evidence{WindowStart: q.From, WindowEnd: q.To, Failures: failures, DistinctUsers: len(users),
		TopUsers: top(dims["user"]), TopApps: top(dims["app"]), TopIPs: top(dims["ip"]), TopDevices: top(dims["device"]),
		TopClients: top(dims["client"]), TopCodes: top(dims["code"])}, nil
}

// top returns the evidenceTop most frequent values, by count then value.
func top(counts map[string]int) []schemas.Count {
	var out []schemas.Count
	for v, c := range counts {
		out = append(out, schemas.Count{Value: v, Count: c})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Value < out[j].Value
	})
	if len(out) > evidenceTop {
		out = out[:evidenceTop]
	}
	return out
}
