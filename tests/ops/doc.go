// Package ops tests what an operator relies on, against the real binary
// and the real tools: /metrics passes `promtool check metrics` on a live
// scrape, deploy/prometheus/alerts.yml passes `promtool check rules` and
// its unit tests (`promtool test rules`), and every expression of the
// Grafana dashboard and the alert rules names a series the service
// exports. promtool comes from Debian's prometheus package, which
// scripts/tools.sh installs when it is missing (make test runs it).
package ops
