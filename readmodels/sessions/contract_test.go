package sessions_test

import (
	"testing"

	"github.com/authledger/authledger/projections"
	"github.com/authledger/authledger/projections/projectiontest"
	"github.com/authledger/authledger/readmodels/sessions"
)

func TestActiveSessionsPassTheSQLProjectionContract(t *testing.T) {
	t.Parallel()
	projectiontest.Run(t, projectiontest.Case{New: func() projections.SQLProjection { return sessions.Active{} }})
}

func TestSessionTokensPassTheSQLProjectionContract(t *testing.T) {
	t.Parallel()
	projectiontest.Run(t, projectiontest.Case{New: func() projections.SQLProjection { return sessions.Tokens{} }})
}
