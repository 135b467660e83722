#!/usr/bin/env python3
"""Writes dashboard.json, the Grafana dashboard of authledger's series.

The JSON is the artefact Grafana imports (and compose provisions); this
script is how it is kept readable: edit the PANELS table and run
`python3 deploy/grafana/gen_dashboard.py`. tests/ops checks that every
expression of dashboard.json names a series the service exports.
"""
import json, os

DS = {"type": "prometheus", "uid": "${datasource}"}

# (row, title, unit, [(expr, legend)], kind)
PANELS = [
    ("Tokens", "Token requests by route and status", "reqps",
     [('sum by (route, status) (rate(authledger_http_requests_total{job=~"$job", route=~"/oauth2/.*"}[$__rate_interval]))', "{{route}} {{status}}")], "timeseries"),
    ("Tokens", "JWTs issued by class (M2M, access)", "ops",
     [('sum by (class) (rate(authledger_tokens_issued_total{job=~"$job"}[$__rate_interval]))', "{{class}}")], "timeseries"),
    ("Tokens", "Token refreshes", "ops",
     [('sum(rate(authledger_token_refreshes_total{job=~"$job"}[$__rate_interval]))', "refreshes")], "timeseries"),
    ("Tokens", "Refresh-token reuse detections (1h)", "short",
     [('sum(increase(authledger_refresh_token_reuse_detections_total{job=~"$job"}[1h]))', "reuse")], "stat"),
    ("Tokens", "Active sessions", "short",
     [('max(authledger_active_sessions{job=~"$job"})', "active")], "stat"),
    ("Tokens", "Sessions started and ended", "ops",
     [('sum(rate(authledger_sessions_started_total{job=~"$job"}[$__rate_interval]))', "started"),
      ('sum(rate(authledger_sessions_ended_total{job=~"$job"}[$__rate_interval]))', "ended")], "timeseries"),

    ("Authentication", "Client authentications by method and result", "ops",
     [('sum by (method, result) (rate(authledger_client_authentications_total{job=~"$job"}[$__rate_interval]))', "{{method}} {{result}}")], "timeseries"),
    ("Authentication", "Failed authentications vs 6h baseline", "ops",
     [('authledger:auth_failures:rate5m', "failed now"), ('authledger:auth_failures:rate6h_offset5m', "6h baseline")], "timeseries"),
    ("Authentication", "Service authentication failure ratio", "percentunit",
     [('sum by (method) (rate(authledger_client_authentications_total{job=~"$job", result="invalid_client"}[$__rate_interval])) / sum by (method) (rate(authledger_client_authentications_total{job=~"$job"}[$__rate_interval]))', "{{method}}")], "timeseries"),
    ("Authentication", "Rate-limit refusals by budget", "ops",
     [('sum by (budget) (rate(authledger_rate_limit_refusals_total{job=~"$job"}[$__rate_interval]))', "{{budget}}")], "timeseries"),

    ("Verification and keys", "JWT verification latency p50/p95/p99", "s",
     [('histogram_quantile(0.5, sum by (le) (rate(authledger_jwt_verification_duration_seconds_bucket{job=~"$job"}[$__rate_interval])))', "p50"),
      ('histogram_quantile(0.95, sum by (le) (rate(authledger_jwt_verification_duration_seconds_bucket{job=~"$job"}[$__rate_interval])))', "p95"),
      ('histogram_quantile(0.99, sum by (le) (rate(authledger_jwt_verification_duration_seconds_bucket{job=~"$job"}[$__rate_interval])))', "p99")], "timeseries"),
    ("Verification and keys", "JWT verification errors by reason", "ops",
     [('sum by (reason) (rate(authledger_jwt_verification_duration_seconds_count{job=~"$job", result="error"}[$__rate_interval]))', "{{reason}}")], "timeseries"),
    ("Verification and keys", "JWKS cache hit ratio", "percentunit",
     [('min(authledger_jwks_cache_hit_ratio{job=~"$job"})', "hit ratio"),
      ('sum(rate(authledger_jwks_cache_hits_total{job=~"$job"}[$__rate_interval])) / (sum(rate(authledger_jwks_cache_hits_total{job=~"$job"}[$__rate_interval])) + sum(rate(authledger_jwks_cache_misses_total{job=~"$job"}[$__rate_interval])))', "recent")], "timeseries"),
    ("Verification and keys", "Signing keys by state", "short",
     [('max by (state) (authledger_signing_keys{job=~"$job"})', "{{state}}")], "timeseries"),
    ("Verification and keys", "Key lifecycle events and rotation failures", "short",
     [('sum by (event) (increase(authledger_key_rotation_events_total{job=~"$job"}[$__range]))', "{{event}}"),
      ('sum(increase(authledger_key_rotation_failures_total{job=~"$job"}[$__range]))', "failures")], "timeseries"),
    ("Verification and keys", "Next key due in", "s",
     [('max(authledger_signing_key_next_due_timestamp_seconds{job=~"$job"}) - time()', "due in")], "stat"),

    ("Ledger", "Ledger append latency p50/p95/p99", "s",
     [('histogram_quantile(0.5, sum by (le) (rate(authledger_ledger_append_duration_seconds_bucket{job=~"$job"}[$__rate_interval])))', "p50"),
      ('histogram_quantile(0.95, sum by (le) (rate(authledger_ledger_append_duration_seconds_bucket{job=~"$job"}[$__rate_interval])))', "p95"),
      ('histogram_quantile(0.99, sum by (le) (rate(authledger_ledger_append_duration_seconds_bucket{job=~"$job"}[$__rate_interval])))', "p99")], "timeseries"),
    ("Ledger", "Group-commit batch size (mean, p95)", "short",
     [('sum(rate(authledger_ledger_group_commit_appends_sum{job=~"$job"}[$__rate_interval])) / sum(rate(authledger_ledger_group_commit_appends_count{job=~"$job"}[$__rate_interval]))', "mean"),
      ('histogram_quantile(0.95, sum by (le) (rate(authledger_ledger_group_commit_appends_bucket{job=~"$job"}[$__rate_interval])))', "p95")], "timeseries"),
    ("Ledger", "Ledger head position", "short",
     [('max(authledger_ledger_head_position{job=~"$job"})', "head")], "timeseries"),
    ("Ledger", "Events appended by type", "ops",
     [('sum by (type) (rate(authledger_ledger_events_appended_total{job=~"$job"}[$__rate_interval]))', "{{type}}")], "timeseries"),
    ("Ledger", "Append errors and dependency outages", "ops",
     [('sum by (kind) (rate(authledger_ledger_append_errors_total{job=~"$job"}[$__rate_interval]))', "append {{kind}}"),
      ('sum by (dependency) (rate(authledger_dependency_errors_total{job=~"$job"}[$__rate_interval]))', "503 {{dependency}}")], "timeseries"),
    ("Ledger", "Last signed checkpoint age", "s",
     [('time() - max(authledger_audit_checkpoint_last_timestamp_seconds{job=~"$job"})', "age")], "stat"),

    ("Projections", "Projection lag (seconds)", "s",
     [('max by (projection) (authledger_projection_lag_seconds{job=~"$job"})', "{{projection}}")], "timeseries"),
    ("Projections", "Projection lag (events)", "short",
     [('max by (projection) (authledger_projection_lag_events{job=~"$job"})', "{{projection}}")], "timeseries"),
    ("Projections", "Projections not running", "short",
     [('max by (projection, state) (authledger_projection_state{job=~"$job", state=~"stopped|retrying|rebuilding"}) > 0', "{{projection}} {{state}}")], "timeseries"),

    ("Dependencies", "Secret provider up / errors", "short",
     [('min(authledger_secret_provider_up{job=~"$job"})', "up"),
      ('sum by (op) (increase(authledger_secret_provider_errors_total{job=~"$job"}[$__rate_interval]))', "errors {{op}}")], "timeseries"),
    ("Dependencies", "Redis circuit breaker", "short",
     [('max by (instance, state) (authledger_redis_breaker_state{job=~"$job"}) > 0', "{{instance}} {{state}}")], "timeseries"),
    ("Dependencies", "HTTP latency p95 by route", "s",
     [('histogram_quantile(0.95, sum by (le, route) (rate(authledger_http_request_duration_seconds_bucket{job=~"$job"}[$__rate_interval])))', "{{route}}")], "timeseries"),
    ("Dependencies", "Requests refused at the in-flight cap", "ops",
     [('sum(rate(authledger_http_overload_refusals_total{job=~"$job"}[$__rate_interval]))', "503 overloaded")], "timeseries"),
    ("Dependencies", "Parked revocation long polls", "short",
     [('sum(authledger_revocation_long_polls{job=~"$job"})', "parked")], "timeseries"),
    ("Dependencies", "Background task restarts", "short",
     [('sum by (task) (increase(authledger_background_task_restarts_total{job=~"$job"}[$__range]))', "{{task}}")], "timeseries"),
    ("Dependencies", "Builds running", "short",
     [('count by (version, revision) (authledger_build_info{job=~"$job"})', "{{version}} {{revision}}")], "stat"),
]


def build():
    panels, y, pid, row = [], 0, 1, None
    x = 0
    for r, title, unit, targets, kind in PANELS:
        if r != row:
            if x:
                y += 8
                x = 0
            panels.append({"type": "row", "title": r, "id": pid, "collapsed": False,
                           "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
            pid += 1
            y += 1
            row = r
        w = 6 if kind == "stat" else 12
        if x + w > 24:
            x = 0
            y += 8
        panels.append({
            "type": kind, "title": title, "id": pid, "datasource": DS,
            "gridPos": {"h": 8, "w": w, "x": x, "y": y},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "options": {},
            "targets": [{"refId": chr(ord("A") + i), "datasource": DS, "expr": e, "legendFormat": l}
                        for i, (e, l) in enumerate(targets)],
        })
        pid += 1
        x += w
    return {
        "title": "authledger",
        "uid": "authledger-overview",
        "tags": ["authledger"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [
            {"type": "datasource", "name": "datasource", "label": "Prometheus", "query": "prometheus",
             "current": {"text": "Prometheus", "value": "prometheus"}},
            {"type": "query", "name": "job", "label": "job", "datasource": DS,
             "query": {"query": "label_values(authledger_build_info, job)", "refId": "job"},
             "definition": "label_values(authledger_build_info, job)",
             "includeAll": True, "multi": True, "refresh": 2,
             "current": {"text": "All", "value": "$__all"}},
        ]},
        "annotations": {"list": []},
        "panels": panels,
    }


if __name__ == "__main__":
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dashboard.json")
    with open(out, "w") as f:
        json.dump(build(), f, indent=2)
        f.write("\n")
