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

// signInRef is a sign-in's place in the signins table.
type signInRef struct {
	userKey, category, id string
	at                    time.Time
}

// ListSignIns implements sinks.Lister. Two steps, so the 3 KB documents
// are read only for the page: the latest version of every sign-in in the
// range is chosen on narrow columns and filtered (a filter must see the
// latest version, not an earlier one), then the page's documents are read
// by primary key.
func (s *Store) ListSignIns(ctx context.Context, q sinks.SignInListQuery) ([]schemas.SignIn, error) {
	if q.From.IsZero() || q.To.IsZero() {
		return nil, fmt.Errorf("%w: a sign-in list needs from and to", sinks.ErrInvalidQuery)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	limit := sinks.PageLimit(q.Limit)
	inner := "created_at >= ? AND created_at <= ?"
	args := []any{q.From.Truncate(time.Second), q.To}
	if q.User != "" {
		users, err := s.usersOf(ctx, q.User, q.From, q.To)
		if err != nil {
			return nil, err
		}
		inner += " AND user_key IN ?"
		args = append(args, ch.GroupSet{Value: users})
	}
	outer := []string{"1 = 1"}
	if q.App != "" {
		outer = append(outer, "(lower(app_id) = ? OR lower(app_display_name) = ?)")
		args = append(args, strings.ToLower(q.App), strings.ToLower(q.App))
	}
	if q.IP != "" {
		outer = append(outer, "ip_address = ?")
		args = append(args, q.IP)
	}
	if q.ErrorCode != nil {
		outer = append(outer, "error_code = ?")
		args = append(args, int32(*q.ErrorCode))
	}
	if q.AfterMs != 0 || q.AfterID != "" {
		outer = append(outer, "(created_ms < ? OR (created_ms = ? AND id > ?))")
		args = append(args, q.AfterMs, q.AfterMs, q.AfterID)
	}
	rows, err := s.conn.Query(ctx, fmt.Sprintf(
		`SELECT user_key, created_at, category, id FROM (
		   SELECT user_key, created_at, category, id, created_ms, app_id, app_display_name, ip_address, error_code
		   FROM %s WHERE %s
		   ORDER BY category, id, created_ms DESC, version DESC LIMIT 1 BY category, id)
		 WHERE %s ORDER BY created_ms DESC, id LIMIT %d`, s.table("signins"), inner, strings.Join(outer, " AND "), limit), args...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: list sign-ins: %w", err)
	}
	var refs []signInRef
	for rows.Next() {
		var r signInRef
		if err := rows.Scan(&r.userKey, &r.at, &r.category, &r.id); err != nil {
			_ = rows.Close() // the scan error is the one to report
			return nil, fmt.Errorf("clickhouse: list sign-ins: %w", err)
		}
		refs = append(refs, r)
	}
	_ = rows.Close() // rows.Err below reports what went wrong
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: list sign-ins: %w", err)
	}
	out, err := s.signInsByRefs(ctx, refs)
	if err != nil {
		return nil, err
	}
	if err := s.markFlagged(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// signInsByRefs reads the latest documents of refs, in the order of refs,
// through the id lookup the flagged list uses (signInsByKeys), so this
// file does not depend on where documents are stored.
func (s *Store) signInsByRefs(ctx context.Context, refs []signInRef) ([]schemas.SignIn, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	keys := make([]any, 0, len(refs))
	seen := map[string]bool{}
	pos := make(map[string]int, len(refs))
	for i, r := range refs {
		pos[r.category+"\x00"+r.id] = i
		if k := strings.ToLower(r.id); !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	// An id may name sign-ins of several categories: read them all.
	got, err := s.signInsByKeys(ctx, keys, nil, 4*len(refs))
	if err != nil {
		return nil, err
	}
	out := make([]schemas.SignIn, len(refs))
	found := make([]bool, len(refs))
	for _, si := range got {
		if i, ok := pos[si.Category+"\x00"+si.ID]; ok {
			out[i], found[i] = si, true
		}
	}
	// A sign-in re-emitted between the two steps may have moved; list
	// what was found.
	kept := out[:0]
	for i := range out {
		if found[i] {
			kept = append(kept, out[i])
		}
	}
	return kept, nil
}

// usersOf resolves a UPN or object id to user keys for the list queries,
// through reader.go's resolution (the only line here that names it).
func (s *Store) usersOf(ctx context.Context, user string, from, to time.Time) ([]any, error) {
	return s.resolveUser(ctx, user)
}
