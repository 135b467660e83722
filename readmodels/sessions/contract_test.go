package sessions_test

import (
	"testing"

	"authledger/projections"
	"authledger/projections/projectiontest"
	"authledger/readmodels/sessions"
)

func TestActiveSessionsPassTheSQLProjectionContract(t *testing.T) {
	t.Parallel()
	projectiontest.Run(t, projectiontest.Case{New: func() projections.SQLProjection { return sessions.Active{} }})
}
