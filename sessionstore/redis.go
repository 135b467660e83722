package sessionstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authledger/authledger/domain/session"
)

// Redis is the production session store. Keys (under Prefix):
//
//	tok:<token sha-256 hex>  → session id             (ttl)
//	sid:<id>                 → JSON session.Record     (ttl)
//	sub:<subject>            → set of session ids      (absolute lifetime)
//	seen:<id>                → last use, Unix µs       (ttl)
//
// Touches write only seen: and extend ttls (EXPIRE never creates a key), so
// a touch that races a step-up cannot resurrect the rotated-out token.
// The record names its current token hash, so a lookup through a stale
// tok: key (a lost race with a rotation) is refused.
type Redis struct {
	c        redis.UniversalClient
	prefix   string
	absolute time.Duration
}

// NewRedis uses c with keys under prefix (e.g. "authledger:sess:").
// absolute bounds how long the per-subject index lives.
func NewRedis(c redis.UniversalClient, prefix string, absolute time.Duration) *Redis {
	return &Redis{c: c, prefix: prefix, absolute: absolute}
}

func (r *Redis) tokKey(h string) string   { return r.prefix + "tok:" + h }
func (r *Redis) sidKey(id string) string  { return r.prefix + "sid:" + id }
func (r *Redis) subKey(s string) string   { return r.prefix + "sub:" + s }
func (r *Redis) seenKey(id string) string { return r.prefix + "seen:" + id }

func unavailable(err error) error {
	if errors.Is(err, session.ErrNotFound) {
		return err
	}
	return fmt.Errorf("%w: %w", session.ErrUnavailable, err)
}

func (r *Redis) Create(ctx context.Context, rec session.Record, ttl time.Duration) error {
	return r.write(ctx, rec, ttl, "")
}

func (r *Redis) write(ctx context.Context, rec session.Record, ttl time.Duration, oldHash string) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if oldHash != "" && oldHash != rec.TokenHash {
			p.Del(ctx, r.tokKey(oldHash))
		}
		p.Set(ctx, r.tokKey(rec.TokenHash), rec.ID, ttl)
		p.Set(ctx, r.sidKey(rec.ID), b, ttl)
		p.SAdd(ctx, r.subKey(rec.Subject), rec.ID)
		p.Expire(ctx, r.subKey(rec.Subject), r.absolute)
		return nil
	})
	if err != nil {
		return unavailable(err)
	}
	return nil
}

func (r *Redis) Get(ctx context.Context, id string) (session.Record, error) {
	vals, err := r.c.MGet(ctx, r.sidKey(id), r.seenKey(id)).Result()
	if err != nil {
		return session.Record{}, unavailable(err)
	}
	raw, ok := vals[0].(string)
	if !ok {
		return session.Record{}, session.ErrNotFound
	}
	var rec session.Record
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		return session.Record{}, fmt.Errorf("sessions: corrupt record %s: %w", id, err)
	}
	if seen, ok := vals[1].(string); ok {
		if us, err := strconv.ParseInt(seen, 10, 64); err == nil {
			if t := time.UnixMicro(us).UTC(); t.After(rec.LastSeen) {
				rec.LastSeen = t
			}
		}
	}
	return rec, nil
}

func (r *Redis) Touch(ctx context.Context, rec session.Record, lastSeen time.Time, ttl time.Duration) error {
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, r.seenKey(rec.ID), strconv.FormatInt(lastSeen.UnixMicro(), 10), ttl)
		p.Expire(ctx, r.tokKey(rec.TokenHash), ttl)
		p.Expire(ctx, r.sidKey(rec.ID), ttl)
		return nil
	})
	if err != nil {
		return unavailable(err)
	}
	return nil
}

func (r *Redis) Lookup(ctx context.Context, tokenHash string) (session.Record, error) {
	id, err := r.c.Get(ctx, r.tokKey(tokenHash)).Result()
	if errors.Is(err, redis.Nil) {
		return session.Record{}, session.ErrNotFound
	}
	if err != nil {
		return session.Record{}, unavailable(err)
	}
	rec, err := r.Get(ctx, id)
	if err != nil {
		return session.Record{}, err
	}
	if rec.TokenHash != tokenHash {
		return session.Record{}, session.ErrNotFound
	}
	return rec, nil
}

func (r *Redis) Save(ctx context.Context, rec session.Record, ttl time.Duration) error {
	old, err := r.Get(ctx, rec.ID)
	if err != nil && !errors.Is(err, session.ErrNotFound) {
		return err
	}
	return r.write(ctx, rec, ttl, old.TokenHash)
}

func (r *Redis) Delete(ctx context.Context, id string) error {
	rec, err := r.Get(ctx, id)
	if errors.Is(err, session.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, r.tokKey(rec.TokenHash), r.sidKey(id), r.seenKey(id))
		p.SRem(ctx, r.subKey(rec.Subject), id)
		return nil
	})
	if err != nil {
		return unavailable(err)
	}
	return nil
}

func (r *Redis) ListBySubject(ctx context.Context, subject string) ([]session.Record, error) {
	ids, err := r.c.SMembers(ctx, r.subKey(subject)).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = r.sidKey(id)
	}
	vals, err := r.c.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	var out []session.Record
	var gone []any
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			gone = append(gone, ids[i])
			continue
		}
		var rec session.Record
		if err := json.Unmarshal([]byte(s), &rec); err != nil || rec.Subject != subject {
			continue
		}
		out = append(out, rec)
	}
	if len(gone) > 0 {
		// Expired sessions leave the index lazily; a failure here only
		// delays the cleanup.
		_ = r.c.SRem(ctx, r.subKey(subject), gone...).Err()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

func (r *Redis) Ping(ctx context.Context) error {
	if err := r.c.Ping(ctx).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}
