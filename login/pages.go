package login

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"path"

	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/api"
)

//go:embed assets
var assets embed.FS

var pages = template.Must(template.ParseFS(assets, "assets/*.html"))

// page renders one of the module's pages. The pages hold no inline script
// or style: the CSP allows only the module's own static files.
func (p *Passkeys) page(name string) echo.HandlerFunc {
	return func(c echo.Context) error {
		var buf bytes.Buffer
		if err := pages.ExecuteTemplate(&buf, name, map[string]string{"RP": p.cfg.DisplayName}); err != nil {
			return err
		}
		return c.HTMLBlob(http.StatusOK, buf.Bytes())
	}
}

var staticTypes = map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}

func (p *Passkeys) static(c echo.Context) error {
	name := c.Param("file")
	typ, ok := staticTypes[path.Ext(name)]
	if !ok || path.Base(name) != name {
		return api.NewProblem(http.StatusNotFound, "not-found", "Not Found", "no such file")
	}
	b, err := assets.ReadFile("assets/" + name)
	if err != nil {
		return api.NewProblem(http.StatusNotFound, "not-found", "Not Found", "no such file")
	}
	return c.Blob(http.StatusOK, typ, b)
}
