package families_test

import (
	"testing"

	"authledger/projections"
	"authledger/projections/projectiontest"
	"authledger/readmodels/families"
)

func TestFamiliesPassTheSQLProjectionContract(t *testing.T) {
	t.Parallel()
	projectiontest.Run(t, projectiontest.Case{New: func() projections.SQLProjection { return families.Projection{} }})
}
