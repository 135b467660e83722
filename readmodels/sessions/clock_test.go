package sessions_test

import "time"

// t0 is the instant the projection tests start from.
var t0 = time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
