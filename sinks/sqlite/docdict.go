package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/klauspost/compress/s2"

	"github.com/signindiag/signindiag/sinks"
)

// A stored sign-in document starts with a byte that neither the wire
// format (its version, 1) nor JSON ('{') starts with:
const (
	// docCompressed: an S2 block follows.
	docCompressed byte = 0xC2
	// docDictCompressed: the id of a doc_dicts row (uvarint), then an S2
	// block compressed with that dictionary.
	docDictCompressed byte = 0xC3
)

// A sign-in's document compresses poorly alone (2.0 KB to 1.6 KB with
// S2): most of it is field names and values every sign-in of the tenant
// repeats once each. Compressed against a dictionary of earlier documents
// it is a fifth of that, for the same speed. The store learns its
// dictionary from its own first sign-ins (the tenant's apps, policies and
// locations, not the generator's) and keeps it in doc_dicts for as long
// as the file lives, so every document it compressed stays readable.
// dictMinSignIns is the size of the first group of sign-ins it learns
// from: a sample spread across many users and outcomes.
const dictMinSignIns = 256

// docDict is a dictionary the writer compresses documents with.
type docDict struct {
	id   int64
	dict *s2.Dict
}

// learnDocDict makes the store's dictionary from a sample of the group's
// documents, when it has none and the group is large enough, and stores
// it within tx. The caller publishes it (s.dict) once tx is committed, so
// no document compressed with it is stored without it.
func (s *Store) learnDocDict(ctx context.Context, tx *sql.Tx, batches []*preparedBatch) (*docDict, error) {
	if s.dict.Load() != nil {
		return nil, nil
	}
	var docs [][]byte
	for _, p := range batches {
		for i := range p.signIns {
			docs = append(docs, p.signIns[i].plain)
		}
	}
	if len(docs) < dictMinSignIns {
		return nil, nil
	}
	// Every step-th document, until the dictionary is full.
	var sample []byte
	step := max(1, len(docs)/64)
	for i := 0; i < len(docs) && len(sample)+len(docs[i]) <= s2.MaxDictSize; i += step {
		sample = append(sample, docs[i]...)
	}
	// The repeat offset starts at the opening a document shares with all.
	d := s2.MakeDict(sample, docs[0][:min(len(docs[0]), 16)])
	if d == nil {
		return nil, nil
	}
	res, err := tx.ExecContext(ctx, "INSERT INTO doc_dicts (created_ms, dict) VALUES (?, ?)", time.Now().UnixMilli(), d.Bytes())
	if err != nil {
		return nil, fmt.Errorf("store the documents' dictionary: %w", classify(err))
	}
	id, err := res.LastInsertId()
	if err != nil {
		return nil, fmt.Errorf("store the documents' dictionary: %w", err)
	}
	return &docDict{id: id, dict: d}, nil
}

// loadDocDict picks up the dictionary an earlier run learned (s.mu held).
func (s *Store) loadDocDict(ctx context.Context) error {
	var id int64
	var b []byte
	err := s.w.QueryRowContext(ctx, "SELECT id, dict FROM doc_dicts ORDER BY id DESC LIMIT 1").Scan(&id, &b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlite: read the documents' dictionary: %w", classify(err))
	}
	d := s2.NewDict(b)
	if d == nil {
		return fmt.Errorf("sqlite: documents' dictionary %d: %w: not an S2 dictionary", id, sinks.ErrPermanent)
	}
	s.dict.Store(&docDict{id: id, dict: d})
	s.dicts.Store(id, d)
	return nil
}

// dictByID returns a dictionary documents were compressed with, read
// once from the file (a reader may be another process than the writer).
func (s *Store) dictByID(ctx context.Context, id int64) (*s2.Dict, error) {
	if d, ok := s.dicts.Load(id); ok {
		return d.(*s2.Dict), nil
	}
	var b []byte
	if err := s.r.QueryRowContext(ctx, "SELECT dict FROM doc_dicts WHERE id = ?", id).Scan(&b); err != nil {
		return nil, fmt.Errorf("read the documents' dictionary %d: %w", id, err)
	}
	d := s2.NewDict(b)
	if d == nil {
		return nil, fmt.Errorf("documents' dictionary %d is not an S2 dictionary", id)
	}
	s.dicts.Store(id, d)
	return d, nil
}

// plainDoc undoes appendDoc.
func (s *Store) plainDoc(ctx context.Context, doc []byte) ([]byte, error) {
	switch {
	case len(doc) > 0 && doc[0] == docCompressed:
		plain, err := s2.Decode(nil, doc[1:])
		if err != nil {
			return nil, fmt.Errorf("decompress the document: %w", err)
		}
		return plain, nil
	case len(doc) > 0 && doc[0] == docDictCompressed:
		id, n := binary.Uvarint(doc[1:])
		if n <= 0 {
			return nil, errors.New("decompress the document: no dictionary id")
		}
		d, err := s.dictByID(ctx, int64(id)) //nolint:gosec // ids are SQLite rowids
		if err != nil {
			return nil, err
		}
		plain, err := d.Decode(nil, doc[1+n:])
		if err != nil {
			return nil, fmt.Errorf("decompress the document: %w", err)
		}
		return plain, nil
	}
	return doc, nil
}
