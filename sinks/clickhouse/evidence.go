package clickhouse

import (
	"context"
	"fmt"
	"sort"
	"strconv"
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
		ms                                       int64
		version                                  uint64
		user, upn, app, ip, device, client, code string
	}
	latest := map[versionKey]failure{}
	for rows.Next() {
		var k versionKey
		var f failure
		var code int32
		if err := rows.Scan(&k.category, &k.id, &f.ms, &f.version, &f.user, &f.upn, &f.app, &f.ip, &f.device, &f.client, &code); err != nil {
			return nil, fmt.Errorf("clickhouse: evidence: %w", err)
		}
		f.code = strconv.Itoa(int(code))
		if old, ok := latest[k]; !ok || f.ms > old.ms || f.ms == old.ms && f.version > old.version {
			latest[k] = f
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: evidence: %w", err)
	}
	dims := map[string]map[string]int{}
	users := map[string]bool{}
	add := func(dim, v string) {
		if v == "" {
			return
		}
		if dims[dim] == nil {
			dims[dim] = map[string]int{}
		}
		dims[dim][v]++
	}
	for _, f := range latest {
		users[f.user] = true
		add("app", f.app)
		add("ip", f.ip)
		add("device", f.device)
		add("client", f.client)
		add("code", f.code)
		if f.upn != "" {
			add("user", f.upn)
		} else {
			add("user", f.user)
		}
	}
	return &schemas.Evidence{WindowStart: q.From, WindowEnd: q.To, Failures: len(latest), DistinctUsers: len(users),
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
