package api

import "github.com/labstack/echo/v4"

// SourceAddress is the caller's address as the server found it (trusted
// proxies believed, AUTHLEDGER_TRUSTED_PROXIES): the key of the
// failed-authentication budgets, for endpoint groups outside this package
// (the login module).
func SourceAddress(c echo.Context) string { return sourceAddress(c) }
