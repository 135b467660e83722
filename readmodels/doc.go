// Package readmodels holds, one subpackage each (readmodels/<name>), the
// read models the API queries: their projections (see package projections,
// which also opens and migrates the read-model database) and their queries.
// Read models import projections; projections imports nothing under
// readmodels.
package readmodels
