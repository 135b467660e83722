package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/client/echoverifier"
	"github.com/authledger/authledger/client/verifier"
	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// TestOpenIDClientDrivesDPoPFlows runs tests/interop/openid-client/dpop.mjs
// (openid-client 6, its own DPoP implementation) against `authledger
// serve`: client_credentials and refresh bound to keys openid-client made,
// with EdDSA and ES256. The resource server it calls is this test's, and
// it accepts a request only if client/verifier accepts the token and
// openid-client's proof.
func TestOpenIDClientDrivesDPoPFlows(t *testing.T) {
	t.Parallel()
	dir, err := filepath.Abs("openid-client")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		// make test installs it (scripts/interop-deps.sh); a bare go test
		// installs it here rather than skip.
		out, err := exec.Command("../../scripts/interop-deps.sh").CombinedOutput()
		if err != nil {
			t.Fatalf("interop-deps.sh: %v\n%s", err, out)
		}
	}
	addr, err := e2eharness.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + addr // openid-client checks the metadata's issuer against the URL it fetched
	srv := e2eharness.Start(t, bin, e2eharness.Options{Addr: addr, Env: map[string]string{"AUTHLEDGER_ISSUER": issuer}})
	res := srv.CLI("services", "register", "--name", "interop", "--scopes", "sessions:create")
	if res.Code != 0 {
		t.Fatalf("register: %s", res.Stderr)
	}
	var svc struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &svc); err != nil {
		t.Fatal(err)
	}
	waitForClient(t, issuer, svc.ClientID, svc.ClientSecret)

	remote, err := verifier.NewRemote(verifier.RemoteConfig{URL: issuer + "/.well-known/jwks.json"})
	if err != nil {
		t.Fatal(err)
	}
	pc, _ := verifier.NewProofChecker(verifier.ProofConfig{Replay: verifier.NewMemoryReplayCache(nil)})
	v, err := verifier.New(verifier.Config{Issuer: issuer, Audiences: []string{issuer}, Keys: remote, Leeway: 5 * time.Second, DPoP: pc})
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int64
	e := echo.New()
	e.GET("/orders", func(c echo.Context) error {
		cl, _ := echoverifier.ClaimsFrom(c)
		accepted.Add(1)
		return c.JSON(http.StatusOK, map[string]string{"jkt": cl.JKT, "sub": cl.Subject})
	}, echoverifier.Middleware(v))
	rs := httptest.NewServer(e)
	defer rs.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "dpop.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ISSUER="+issuer, "CLIENT_ID="+svc.ClientID, "CLIENT_SECRET="+svc.ClientSecret, "RS_URL="+rs.URL+"/orders")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node dpop.mjs: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	var algs []string
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var r struct {
			Alg, JKT, ClientCredentials, Refresh, OtherKey string
			AccessToken                                    string `json:"access_token"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("node printed %q: %v", sc.Text(), err)
		}
		r.JKT = jsonField(t, sc.Bytes(), "jkt")
		// The last access token openid-client got: bound to its key, as
		// the project's verifier reads it.
		c, err := v.Verify(ctx, r.AccessToken)
		if err != nil || c.JKT != r.JKT {
			t.Fatalf("%s: refreshed token: %v, cnf.jkt %q want %q", r.Alg, err, claimsJKT(c), r.JKT)
		}
		algs = append(algs, r.Alg)
	}
	if strings.Join(algs, " ") != "EdDSA ES256" {
		t.Fatalf("flows run for %v", algs)
	}
	// Two resource calls per algorithm reached the handler; the Bearer
	// downgrade did not.
	if n := accepted.Load(); n != 4 {
		t.Fatalf("resource server accepted %d requests, want 4", n)
	}
}

func jsonField(t *testing.T, b []byte, name string) string {
	t.Helper()
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	s, _ := m[name].(string)
	return s
}

func claimsJKT(c *verifier.Claims) string {
	if c == nil {
		return ""
	}
	return c.JKT
}

// waitForClient polls client_credentials until the server's registry has
// the client the CLI registered.
func waitForClient(t *testing.T, issuer, id, secret string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodPost, issuer+"/oauth2/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = errors.New(resp.Status)
		}
		if time.Now().After(deadline) {
			t.Fatal(fmt.Errorf("client never usable: %w", err))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
