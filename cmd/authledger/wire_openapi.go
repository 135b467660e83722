package main

import (
	"context"

	"authledger/api"
)

// wireOpenAPI serves the OpenAPI document (GET /openapi.json and
// /openapi.yaml). A document that does not parse stops the start: it is
// embedded, so that is a build defect, not an operating condition.
func wireOpenAPI(_ context.Context, a *app) error {
	doc, err := api.NewOpenAPI()
	if err != nil {
		return err
	}
	a.routes = append(a.routes, doc)
	return nil
}
