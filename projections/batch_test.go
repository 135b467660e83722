package projections_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"authledger/eventstore"
	"authledger/projections"
)

// batchCounter is counter with ApplyBatch: the same rows from multi-row
// statements. The property and kill tests build incrementally with Apply
// and rebuild with ApplyBatch, so they prove the two agree.
type batchCounter struct{ *counter }

func newBatchCounter(name string) batchCounter { return batchCounter{newCounter(name)} }

var _ projections.BatchApplier = batchCounter{}

func (c batchCounter) ApplyBatch(ctx context.Context, tx *sql.Tx, t projections.Tables, recs []eventstore.Record) error {
	if f := c.fail.Load(); f != nil {
		for _, r := range recs {
			if (*f)(r) {
				return errors.New("counter: cannot fold this event")
			}
		}
	}
	type acc struct {
		reset, addBeforeReset, anyAdd bool
		n, total                      int64
		last                          uint64
	}
	streams := map[string]*acc{}
	var order []string
	for _, r := range recs {
		a := streams[r.Stream]
		if a == nil {
			a = &acc{}
			streams[r.Stream] = a
			order = append(order, r.Stream)
		}
		switch r.Type {
		case typeAdded:
			var p payload
			if err := json.Unmarshal(r.Data, &p); err != nil {
				return err
			}
			a.n++
			a.total += p.V
			a.last = r.Position
			a.anyAdd = true
		case typeReset:
			if a.anyAdd {
				a.addBeforeReset = true
			}
			a.reset, a.n, a.total, a.last = true, 0, 0, r.Position
		}
	}
	st := t.Name("streams")
	var delta, abs [][]any
	for _, s := range order {
		a := streams[s]
		switch {
		case !a.reset:
			delta = append(delta, []any{s, a.n, a.total, a.last})
		case a.addBeforeReset || a.n > 0:
			abs = append(abs, []any{s, a.n, a.total, a.last})
		default: // a reset of a stream that may not exist: touch it only if it does
			if _, err := tx.ExecContext(ctx, `UPDATE `+st+` SET n = 0, total = 0, last_pos = $2 WHERE stream = $1`, s, a.last); err != nil {
				return err
			}
		}
	}
	if err := insertRows(ctx, tx, `INSERT INTO `+st+` (stream, n, total, last_pos) VALUES `, delta,
		` ON CONFLICT (stream) DO UPDATE SET n = `+st+`.n + excluded.n, total = `+st+`.total + excluded.total, last_pos = excluded.last_pos`); err != nil {
		return err
	}
	if err := insertRows(ctx, tx, `INSERT INTO `+st+` (stream, n, total, last_pos) VALUES `, abs,
		` ON CONFLICT (stream) DO UPDATE SET n = excluded.n, total = excluded.total, last_pos = excluded.last_pos`); err != nil {
		return err
	}
	applied := make([][]any, len(recs))
	for i, r := range recs {
		applied[i] = []any{r.Position, r.Stream}
	}
	return insertRows(ctx, tx, `INSERT INTO `+t.Name("applied")+` (pos, stream) VALUES `, applied, "")
}

// insertRows writes rows with multi-row VALUES lists, 500 rows a statement.
func insertRows(ctx context.Context, tx *sql.Tx, head string, rows [][]any, tail string) error {
	for len(rows) > 0 {
		chunk := rows[:min(500, len(rows))]
		rows = rows[len(chunk):]
		var b strings.Builder
		b.WriteString(head)
		args := make([]any, 0, len(chunk)*len(chunk[0]))
		for i, row := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('(')
			for j, v := range row {
				if j > 0 {
					b.WriteByte(',')
				}
				args = append(args, v)
				b.WriteString("$" + strconv.Itoa(len(args)))
			}
			b.WriteByte(')')
		}
		b.WriteString(tail)
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}
