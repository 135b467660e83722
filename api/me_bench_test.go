package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"testing"
	"time"
)

// BenchmarkMeAuditFirstPage is GET /v1/me/audit's first page under 16
// concurrent callers, each a different subject with a session and 20
// refreshes, over the real token stack (bearer check included) and the
// audit model on SQLite. It reports latency percentiles.
func BenchmarkMeAuditFirstPage(b *testing.B) {
	m := newMeEnv(b)
	const callers = 16
	people := make([]person, callers)
	for i := range people {
		people[i] = m.signIn(b, fmt.Sprintf("bench-%02d", i))
		rt := people[i].refresh
		for range 20 {
			r := m.form(b, "/oauth2/token", m.tokEnv.login, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
			if r.status != http.StatusOK {
				b.Fatalf("refresh: %d %s", r.status, r.raw)
			}
			rt = r.body["refresh_token"].(string)
		}
	}
	m.caughtUp(b)
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}}
			for j := i; j < b.N; j += callers {
				req, _ := http.NewRequest(http.MethodGet, m.me.URL+"/v1/me/audit", nil)
				req.Header.Set("Authorization", "Bearer "+people[i].access)
				t0 := time.Now()
				resp, err := c.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_ = resp.Body.Close()
				d := time.Since(t0)
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	at := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.95), "p95-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}
