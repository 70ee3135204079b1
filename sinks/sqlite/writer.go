package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/s2"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/schemas/wire"
	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/sinks/evidence"
)

// preparedBatch is a batch with the values its rows need computed (the
// documents encoded and compressed, keys lower-cased and hashed) by its
// caller before it queues for the writer: the one writer is the store's
// serial path, so it only binds what was prepared.
type preparedBatch struct {
	*sinks.Batch
	signIns     []signInRow // one per Batch.SignIns
	findingDocs []string    // one per Batch.Findings
	flagDocs    []string    // one per Batch.Flags
	commitSeq   uint64      // its transaction's number (walSync.commit)
}

// signInRow is what a sign-in's rows hold beyond its own fields.
type signInRow struct {
	doc                       []byte // as stored (appendDoc)
	plain                     []byte // the wire document: a dictionary's sample
	userKey, upn, app, device string
	scenario                  string // its finding's in the batch
	userHash                  int64
	correlationHash           any // nil: not indexed
}

// prepare computes what b's rows need, compressing the documents with
// dict (nil: without a dictionary). An error is the batch's own
// (sinks.ErrRejected): nothing of it is written.
func prepare(b *sinks.Batch, dict *docDict) (*preparedBatch, error) {
	p := &preparedBatch{Batch: b, signIns: make([]signInRow, len(b.SignIns))}
	docs := make([]byte, 0, 512*len(b.SignIns)) // what a document takes with a dictionary, and some
	scenarios := make(map[string]string, len(b.Findings))
	for i := range b.Findings {
		scenarios[b.Findings[i].SignInID] = b.Findings[i].Scenario
	}
	for i := range b.SignIns {
		si := &b.SignIns[i].SignIn
		doc := b.SignIns[i].Doc
		if len(doc) == 0 {
			var err error
			if doc, err = wire.AppendEvent(nil, &schemas.Event{SignIn: si}); err != nil {
				return nil, fmt.Errorf("sqlite: signins: %w: encode sign-in %s: %w", sinks.ErrRejected, si.ID, err)
			}
		}
		app := si.AppDisplayName
		if app == "" {
			app = si.AppID
		}
		userKey := si.UserKey()
		start := len(docs)
		docs = appendDoc(docs, doc, dict)
		p.signIns[i] = signInRow{doc: docs[start:len(docs):len(docs)], plain: doc, userKey: userKey,
			upn: strings.ToLower(si.UserPrincipalName), app: app, device: evidence.Device(si), scenario: scenarios[si.ID],
			userHash: hashKey(userKey), correlationHash: correlationHash(si.CorrelationID)}
	}
	var err error
	if p.findingDocs, err = jsonDocs(b.Findings, "findings", func(f *schemas.Finding) string { return f.ID }); err != nil {
		return nil, err
	}
	if p.flagDocs, err = jsonDocs(b.Flags, "flags", func(f *schemas.Flag) string { return f.ID }); err != nil {
		return nil, err
	}
	return p, nil
}

// jsonDocs encodes each of rows as the JSON its row's doc holds.
func jsonDocs[T any](rows []T, table string, id func(*T) string) ([]string, error) {
	docs := make([]string, len(rows))
	for i := range rows {
		doc, err := json.Marshal(&rows[i])
		if err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w: encode %s: %w", table, sinks.ErrRejected, id(&rows[i]), err)
		}
		docs[i] = string(doc)
	}
	return docs, nil
}

// writeBatch writes one prepared batch within tx, at version (its write
// time): rows carry it, and an upsert replaces a stored row only with a
// later version (as the ClickHouse store picks at read time), so a
// replayed batch leaves the store as it was, and a re-emitted sign-in
// replaces its earlier version whatever order they arrive in. It returns
// the UPN mappings it wrote, to remember once committed.
func (s *Store) writeBatch(ctx context.Context, tx *sql.Tx, p *preparedBatch, version int64) (map[upnPair]int64, error) {
	w := &batchWriter{ctx: ctx, tx: tx, version: version, known: s.upns}
	for _, step := range []func(*preparedBatch) error{
		w.signIns, w.flags, w.findings, w.ipFailures, w.incidents, w.watermarks,
	} {
		if err := step(p); err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
	}
	return w.written, nil
}

// maxKnownUPNs bounds Store.upns; past it the store starts over.
const maxKnownUPNs = 1 << 20

// rememberUPNs records the mappings a committed batch wrote (s.mu held).
func (s *Store) rememberUPNs(written map[upnPair]int64) {
	if len(s.upns)+len(written) > maxKnownUPNs {
		s.upns = make(map[upnPair]int64)
	}
	for p, ms := range written {
		s.upns[p] = max(s.upns[p], ms)
	}
}

// batchWriter writes one batch within its transaction.
type batchWriter struct {
	ctx     context.Context
	tx      *sql.Tx
	version int64
	known   map[upnPair]int64 // Store.upns: read only here
	written map[upnPair]int64 // the mappings this batch writes
}

// rowsPerStatement is how many rows one INSERT carries: a statement per
// row would cost a round through database/sql and the driver per row.
// SQLite accepts 32 766 parameters; 64 rows of 20 columns stay far below.
const rowsPerStatement = 64

// exec inserts the rows that args appends to dst (nothing: skip the row) with stmt,
// an INSERT of one "VALUES (?, …)" group, rowsPerStatement rows at a time.
func (w *batchWriter) exec(table, stmt string, n int, args func(i int, dst []any) ([]any, error)) error {
	if n == 0 {
		return nil
	}
	at := strings.Index(stmt, "VALUES (")
	end := at + strings.Index(stmt[at:], ")") + 1
	head, group, tail := stmt[:at+len("VALUES ")], stmt[at+len("VALUES "):end], stmt[end:]
	statements := map[int]*sql.Stmt{}
	defer func() {
		for _, ps := range statements {
			_ = ps.Close() // closing a prepared statement of a live transaction fails only with it
		}
	}()
	flush := func(rows int, vals []any) error {
		ps, ok := statements[rows]
		if !ok {
			var err error
			ps, err = w.tx.PrepareContext(w.ctx, head+strings.TrimSuffix(strings.Repeat(group+", ", rows), ", ")+tail)
			if err != nil {
				return fmt.Errorf("prepare insert into %s: %w", table, classify(err))
			}
			statements[rows] = ps
		}
		if _, err := ps.ExecContext(w.ctx, vals...); err != nil {
			return fmt.Errorf("insert into %s: %w", table, classify(err))
		}
		return nil
	}
	var vals []any
	rows := 0
	for i := range n {
		before := len(vals)
		var err error
		if vals, err = args(i, vals); err != nil {
			return fmt.Errorf("%s: %w: %w", table, sinks.ErrRejected, err)
		}
		if len(vals) == before {
			continue
		}
		if rows++; rows == rowsPerStatement {
			if err := flush(rows, vals); err != nil {
				return err
			}
			vals, rows = vals[:0], 0
		}
	}
	if rows > 0 {
		return flush(rows, vals)
	}
	return nil
}

const upsertSignIn = `INSERT INTO signins (id, category, created_ms, version, user_key, upn, correlation_id,
	user_h, correlation_h, app_id, app_display_name, app, ip_address, client_app_used, device, country, scenario,
	error_code, is_failure, shard, kafka_offset, doc)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id, category) DO UPDATE SET id = excluded.id, created_ms = excluded.created_ms,
	version = excluded.version, user_key = excluded.user_key, upn = excluded.upn,
	correlation_id = excluded.correlation_id, user_h = excluded.user_h, correlation_h = excluded.correlation_h,
	app_id = excluded.app_id,
	app_display_name = excluded.app_display_name, app = excluded.app, ip_address = excluded.ip_address,
	client_app_used = excluded.client_app_used, device = excluded.device, country = excluded.country,
	scenario = excluded.scenario, error_code = excluded.error_code, is_failure = excluded.is_failure,
	shard = excluded.shard, kafka_offset = excluded.kafka_offset, doc = excluded.doc
WHERE (excluded.created_ms, excluded.version) >= (signins.created_ms, signins.version)`

// appendDoc appends a sign-in's document as stored to dst: compressed
// with S2, which costs less than the bytes it saves writing, page by
// page, to the log and then to the file. Alone, S2 saves a fifth of a
// document; with the store's dictionary (docdict.go, nil until learned) a
// document is a fifth of its size, as most of it (field names, tenant,
// apps, policies) is what every sign-in carries. A batch's documents
// share one buffer: a buffer per document would be sized for the
// uncompressed worst case, six times what it keeps.
func appendDoc(dst, doc []byte, dict *docDict) []byte {
	dst = slices.Grow(dst, 1+binary.MaxVarintLen64+s2.MaxEncodedLen(len(doc)))
	if dict == nil {
		dst = append(dst, docCompressed)
		// Encode writes in place (the room is there); append then copies
		// the block onto itself.
		return append(dst, s2.Encode(dst[len(dst):cap(dst)], doc)...)
	}
	dst = append(dst, docDictCompressed)
	dst = binary.AppendUvarint(dst, uint64(dict.id)) //nolint:gosec // ids are SQLite rowids, positive
	return append(dst, dict.dict.Encode(dst[len(dst):cap(dst)], doc)...)
}

// signIns stores the sign-ins (the latest version of each), their
// failures for the window rebuild and their UPNs. A sign-in's scenario
// is its finding's in the same batch (a sign-in gets at most one, with
// it), for the spike counts by scenario.
func (w *batchWriter) signIns(p *preparedBatch) error {
	rows := p.SignIns
	if len(rows) == 0 {
		return nil
	}
	err := w.exec("signins", upsertSignIn, len(rows), func(i int, dst []any) ([]any, error) {
		r, pr := &rows[i], &p.signIns[i]
		si := &r.SignIn
		return append(dst, si.ID, si.Category, si.CreatedDateTime.UnixMilli(), w.version, pr.userKey,
			pr.upn, si.CorrelationID, pr.userHash, pr.correlationHash,
			si.AppID, si.AppDisplayName, pr.app,
			si.IPAddress, si.ClientAppUsed, pr.device, si.Location.CountryOrRegion, pr.scenario,
			si.Status.ErrorCode, boolInt(r.IsFailure), r.Shard, r.Offset, pr.doc), nil
	})
	if err != nil {
		return err
	}
	err = w.exec("window_failures", `INSERT OR IGNORE INTO window_failures
		(shard, created_ms, category, id, kafka_offset, user_key, error_code, app_id, device) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		len(rows), func(i int, dst []any) ([]any, error) {
			r, pr := &rows[i], &p.signIns[i]
			if !r.IsFailure {
				return dst, nil
			}
			si := &r.SignIn
			return append(dst, r.Shard, si.CreatedDateTime.UnixMilli(), si.Category, si.ID, r.Offset, pr.userKey,
				si.Status.ErrorCode, si.AppID, pr.device), nil
		})
	if err != nil {
		return err
	}
	return w.upns(p)
}

// upnPair maps a UPN to a user key.
type upnPair struct{ upn, user string }

// day is how far a mapping's seen_ms may lag: it is refreshed at most
// daily, which is all retention needs to keep the mappings of users still
// signing in.
const day = int64(24 * time.Hour / time.Millisecond)

// upns maps each UPN of the batch to its user key. The store remembers
// what it wrote (Store.upns), so a pair costs a write once a day, not once
// a batch.
func (w *batchWriter) upns(b *preparedBatch) error {
	seen := map[upnPair]int64{}
	var pairs []upnPair
	for i := range b.signIns {
		if b.signIns[i].upn == "" {
			continue
		}
		p := upnPair{b.signIns[i].upn, b.signIns[i].userKey}
		ms := b.SignIns[i].SignIn.CreatedDateTime.UnixMilli()
		if known, ok := w.known[p]; ok && ms <= known+day {
			continue
		}
		if old, ok := seen[p]; !ok {
			pairs = append(pairs, p)
			seen[p] = ms
		} else if ms > old {
			seen[p] = ms
		}
	}
	w.written = seen
	return w.exec("user_upns", `INSERT INTO user_upns (upn, user_key, seen_ms) VALUES (?, ?, ?)
		ON CONFLICT (upn, user_key) DO UPDATE SET seen_ms = excluded.seen_ms
		WHERE excluded.seen_ms > user_upns.seen_ms + 86400000`, len(pairs), func(i int, dst []any) ([]any, error) {
		return append(dst, pairs[i].upn, pairs[i].user, seen[pairs[i]]), nil
	})
}

func (w *batchWriter) watermarks(b *preparedBatch) error {
	now := time.Now().UnixMilli()
	return w.exec("window_marks", `INSERT INTO window_marks (stage, shard, kafka_offset, watermark_ms, written_ms)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (stage, shard, kafka_offset) DO UPDATE SET watermark_ms = max(watermark_ms, excluded.watermark_ms),
			written_ms = excluded.written_ms`,
		len(b.Watermarks), func(i int, dst []any) ([]any, error) {
			m := b.Watermarks[i]
			return append(dst, m.Stage, m.Shard, m.Offset, m.At.UnixMilli(), now), nil
		})
}

func (w *batchWriter) flags(b *preparedBatch) error {
	return w.exec("flags", `INSERT INTO flags (id, flagged_ms, signin_id, correlation_id, request_id, flagged_by,
		user_key, version, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET flagged_ms = excluded.flagged_ms, signin_id = excluded.signin_id,
			correlation_id = excluded.correlation_id, request_id = excluded.request_id,
			flagged_by = excluded.flagged_by, user_key = excluded.user_key, version = excluded.version, doc = excluded.doc
		WHERE excluded.version >= flags.version`,
		len(b.Flags), func(i int, dst []any) ([]any, error) {
			f := &b.Flags[i]
			return append(dst, f.ID, f.FlaggedAt.UnixMilli(), strings.ToLower(f.SignInID), strings.ToLower(f.CorrelationID),
				strings.ToLower(f.RequestID), f.FlaggedBy, f.UserKey(), w.version, b.flagDocs[i]), nil
		})
}

// completeFindingVersion marks the version of a finding computed over a
// complete window: every complete version outranks every partial one,
// and within each the later write wins (see schemas.Finding's
// Failures48hPartial). Write times in Unix nanoseconds stay below 1<<62
// until the year 2116.
const completeFindingVersion = int64(1) << 62

func (w *batchWriter) findings(b *preparedBatch) error {
	return w.exec("findings", `INSERT INTO findings (id, signin_id, correlation_id, user_key, occurred_ms, occurred_s,
		scenario, severity, flagged, version, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET signin_id = excluded.signin_id, correlation_id = excluded.correlation_id,
			user_key = excluded.user_key, occurred_ms = excluded.occurred_ms, occurred_s = excluded.occurred_s,
			scenario = excluded.scenario, severity = excluded.severity, flagged = excluded.flagged,
			version = excluded.version, doc = excluded.doc
		WHERE (excluded.occurred_ms, excluded.version) >= (findings.occurred_ms, findings.version)`,
		len(b.Findings), func(i int, dst []any) ([]any, error) {
			f := &b.Findings[i]
			v := w.version
			if !f.Failures48hPartial {
				v |= completeFindingVersion
			}
			return append(dst, f.ID, f.SignInID, f.CorrelationID, f.UserKey, f.OccurredAt.UnixMilli(), f.OccurredAt.Unix(),
				f.Scenario, f.Severity, boolInt(f.Flagged), v, b.findingDocs[i]), nil
		})
}

// ipFailures stores the spray stage's candidates for its rebuild.
func (w *batchWriter) ipFailures(b *preparedBatch) error {
	rows := b.IPFailures
	err := w.exec("window_ip_failures", `INSERT OR IGNORE INTO window_ip_failures
		(shard, created_ms, ip, identity, kafka_offset, user_key) VALUES (?, ?, ?, ?, ?, ?)`,
		len(rows), func(i int, dst []any) ([]any, error) {
			r := &rows[i]
			return append(dst, r.Shard, r.At.UnixMilli(), r.IP, r.Identity, r.Offset, r.UserKey), nil
		})
	return err
}

// hashKey is the indexed hash of a lower-cased key (see the schema).
func hashKey(lower string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(lower))
	return int64(h.Sum64())
}

// correlationHash is a correlation id's indexed hash; nil (not indexed)
// when it has none.
func correlationHash(id string) any {
	if id == "" {
		return nil
	}
	return hashKey(strings.ToLower(id))
}

// userHashes are the indexed hashes of user keys.
func userHashes(users []any) []any {
	out := make([]any, len(users))
	for i, u := range users {
		out[i] = hashKey(u.(string))
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
