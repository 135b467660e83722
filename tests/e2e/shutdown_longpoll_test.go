package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// parkedLongPolls reads the gauge of long polls waiting in the revocation set.
func parkedLongPolls(srv *e2eharness.Server) (string, error) {
	resp, err := srv.Get("/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "authledger_revocation_long_polls "); ok {
			return v, nil
		}
	}
	return "", errors.New("no authledger_revocation_long_polls in /metrics")
}

// A long poll parked on /v1/revocations does not hold shutdown: at
// SIGTERM it answers at once with what the set has, and the process exits
// 0 without waiting for the 15 s drain deadline (the bar is 1 s;
// the elapsed time is logged, and only the generous bound is asserted, so
// a busy machine cannot make it flaky).
func TestSIGTERMAnswersAParkedLongPollAndExitsZero(t *testing.T) {
	t.Parallel()
	srv := e2eharness.Start(t, bin, e2eharness.Options{})
	resp, err := srv.Get("/v1/revocations")
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Cursor uint64 `json:"cursor"`
	}
	err = json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}

	type answer struct {
		code int
		body string
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		r, err := (&http.Client{Timeout: 60 * time.Second}).Get(srv.BaseURL + "/v1/revocations?wait=30&after=" + jsonNumber(page.Cursor))
		if err != nil {
			done <- answer{err: err}
			return
		}
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		done <- answer{r.StatusCode, string(b), err}
	}()
	eventually(t, "the long poll is parked", func() error {
		v, err := parkedLongPolls(srv)
		if err == nil && v != "1" {
			err = errors.New("parked long polls: " + v)
		}
		return err
	})
	select {
	case a := <-done:
		t.Fatalf("the long poll answered before SIGTERM: %+v", a)
	default:
	}

	start := time.Now()
	code, err := srv.Stop()
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("exited %d after %v with a parked long poll", code, took)
	if code != 0 {
		t.Fatalf("exit code %d, want 0; logs:\n%s", code, srv.Logs())
	}
	if took >= 15*time.Second {
		t.Fatalf("shutdown took %v: the long poll held it to the drain deadline", took)
	}
	a := <-done
	if a.err != nil || a.code != 200 || !strings.Contains(a.body, `"cursor"`) {
		t.Fatalf("the parked long poll got %+v, want 200 with a page", a)
	}
	if strings.Contains(srv.Logs(), "context deadline exceeded") {
		t.Fatalf("shutdown hit its deadline:\n%s", srv.Logs())
	}
}

func jsonNumber(n uint64) string { b, _ := json.Marshal(n); return string(b) }
