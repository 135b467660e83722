package sessions

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// CountActive is the number of sessions started, not ended and not past
// their absolute expiry at now (the active-sessions gauge).
func CountActive(ctx context.Context, db *sql.DB, now time.Time) (int64, error) {
	var n int64
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+activeTable+` WHERE expires_at > $1`, now.UnixMicro()).Scan(&n); err != nil {
		return 0, fmt.Errorf("sessions: read model: %w", err)
	}
	return n, nil
}
