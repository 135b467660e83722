package families_test

import (
	"testing"

	"github.com/authledger/authledger/projections"
	"github.com/authledger/authledger/projections/projectiontest"
	"github.com/authledger/authledger/readmodels/families"
)

func TestFamiliesPassTheSQLProjectionContract(t *testing.T) {
	t.Parallel()
	projectiontest.Run(t, projectiontest.Case{New: func() projections.SQLProjection { return families.Projection{} }})
}
