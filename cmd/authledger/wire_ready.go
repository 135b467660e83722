package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/authledger/authledger/api"
	cmds "github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/readmodels/families"
)

// The readiness checks that say whether this instance can do its work, not
// only whether its dependencies answer (README "Readiness").

// secretCheckEvery bounds how often the key checks read the secret
// provider: a load balancer probing every second must not turn into a
// secret read per probe per key.
const secretCheckEvery = 10 * time.Second

// cachedCheck runs check at most once per every and answers its last
// result in between.
func cachedCheck(every time.Duration, check func(context.Context) error) func(context.Context) error {
	var mu sync.Mutex
	var at time.Time
	var last error
	return func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if !at.IsZero() && time.Since(at) < every {
			return last
		}
		last, at = check(ctx), time.Now()
		return last
	}
}

// signingKeysCheck fails while the secret provider lacks (or holds other
// material for) a key the ring signs with now or will sign with next.
func signingKeysCheck(keys keyParts) api.ReadyCheck {
	return api.ReadyCheck{Name: "keys", Check: cachedCheck(secretCheckEvery, func(ctx context.Context) error {
		return cmds.CheckSigningKeys(ctx, keys.secrets, keys.model.Keys())
	})}
}

// errSealingKeysMissing: the ledger sealed unexpired refresh tokens with
// keys this instance cannot open them with.
var errSealingKeysMissing = errors.New("refresh sealing keys used by the ledger are missing from the secret provider")

// sealingKeysCheck fails while the ledger holds unexpired refresh tokens
// sealed with a key this instance's provider does not hold; the log line
// of the failed check names the key ids.
func sealingKeysCheck(sealer *cmds.RefreshSealer, used *families.SealingKeys) api.ReadyCheck {
	return api.ReadyCheck{Name: "sealing_keys", Check: cachedCheck(secretCheckEvery, func(ctx context.Context) error {
		if missing := sealer.MissingKeys(ctx, used.Needed(time.Now())); len(missing) > 0 {
			return fmt.Errorf("%w: %s", errSealingKeysMissing, strings.Join(missing, ", "))
		}
		return nil
	})}
}

// redisCheck degrades (README "Readiness"): Redis answering within its
// budget is needed by session traffic, not by verification, client
// credentials or refresh. The guarded client answers at once while its
// breaker is open, so the probe costs no timeout then.
func redisCheck(in *infraParts) []api.ReadyCheck {
	if in.redis == nil {
		return nil
	}
	return []api.ReadyCheck{{Name: "redis", Degrades: true, Check: func(ctx context.Context) error {
		return in.redis.Ping(ctx).Err()
	}}}
}
