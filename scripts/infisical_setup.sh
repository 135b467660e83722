#!/usr/bin/env bash
# Sets up Infisical for authledger through its REST API, idempotently: run
# it again and it changes nothing that is already right.
#
#   scripts/infisical_setup.sh [--dry-run]
#
# For each environment of config/infisical/ (dev, staging, prod):
#   folders   the identity's folder (path: in the file) and its parents;
#   identity  the machine identity authledger-<env> with Universal Auth, a
#             member of the project with no role of its own, and one
#             additional privilege: read, create, edit and delete secrets in
#             that environment under that folder, nothing else;
#   secret    a client secret for it when it has none, written to
#             $INFISICAL_SETUP_OUT/<env>.client-secret (0600), never printed;
#   approval  for prod, an approval policy on the human configuration folder
#             (/authledger-config): a human change there needs an approver.
#             authledger's own folder is written only by its identity
#             (docs/infisical/access.md, "Approvals in prod").
#
# Environment:
#   INFISICAL_URL            e.g. https://eu.infisical.com
#   INFISICAL_PROJECT_ID     the project (workspace) id
#   INFISICAL_ORG_ID         the organization id (identities live there)
#   INFISICAL_ADMIN_CLIENT_ID, INFISICAL_ADMIN_CLIENT_SECRET
#                            an administrator machine identity (Universal Auth)
#   INFISICAL_APPROVERS      prod approvers' user ids, comma-separated
#   INFISICAL_SETUP_OUT      where client secrets are written (default ./infisical-credentials)
#   INFISICAL_SETUP_STEPS    the steps to run (default "folders identity secret approval")
#
# What was verified: the folders step (login, POST /api/v1/folders, run
# twice) against the in-process fake (tests/infisicalfake,
# TestSetupScriptAgainstTheFake). The identity, privilege, client-secret and
# approval calls follow Infisical's API reference but have NOT been run
# against a real Infisical: no server could be reached where this was
# written. Try it with --dry-run first; it prints each call without sending.
set -euo pipefail
dry=0
[[ "${1:-}" == "--dry-run" ]] && dry=1
: "${INFISICAL_URL:?set INFISICAL_URL}" "${INFISICAL_PROJECT_ID:?set INFISICAL_PROJECT_ID}"
steps=${INFISICAL_SETUP_STEPS:-folders identity secret approval}
out=${INFISICAL_SETUP_OUT:-./infisical-credentials}
confdir=${AUTHLEDGER_INFISICAL_CONFIG_DIR:-config/infisical}
api="${INFISICAL_URL%/}/api"
for tool in curl jq; do command -v "$tool" >/dev/null || { echo "infisical_setup: $tool is required" >&2; exit 2; }; done

token=""
# call METHOD PATH [JSON]: prints the body; returns 0 on 2xx, 1 otherwise
# (the status is in $status).
call() {
  local method=$1 path=$2 body=${3:-}
  if (( dry )); then
    echo "DRY-RUN $method $api$path ${body:+$(jq -c 'del(.clientSecret?)' <<<"$body")}" >&2
    echo '{}'
    status=200
    return 0
  fi
  local args=(-sS -o /tmp/infisical_setup.$$ -w '%{http_code}' -X "$method" -H 'Content-Type: application/json')
  [[ -n "$token" ]] && args+=(-H "Authorization: Bearer $token")
  [[ -n "$body" ]] && args+=(--data "$body")
  status=$(curl "${args[@]}" "$api$path")
  cat /tmp/infisical_setup.$$; rm -f /tmp/infisical_setup.$$
  [[ "$status" == 2* ]]
}
in_steps() { [[ " $steps " == *" $1 "* ]]; }
yaml() { sed -nE "s/^$2:[[:space:]]*\"?([^\"#]*)\"?.*/\1/p" "$1" | sed 's/[[:space:]]*$//'; }

login() {
  : "${INFISICAL_ADMIN_CLIENT_ID:?set INFISICAL_ADMIN_CLIENT_ID}" "${INFISICAL_ADMIN_CLIENT_SECRET:?set INFISICAL_ADMIN_CLIENT_SECRET}"
  local body
  body=$(jq -n --arg id "$INFISICAL_ADMIN_CLIENT_ID" --arg s "$INFISICAL_ADMIN_CLIENT_SECRET" '{clientId:$id, clientSecret:$s}')
  local res
  if ! res=$(call POST /v1/auth/universal-auth/login "$body"); then
    echo "infisical_setup: admin login refused ($status)" >&2; exit 1
  fi
  token=$(jq -r '.accessToken // empty' <<<"$res")
  (( dry )) && token=dry-run
  [[ -n "$token" ]] || { echo "infisical_setup: no access token in the login answer" >&2; exit 1; }
}

ensure_folder() { # env path
  local env=$1 p=$2 parent=/ part
  IFS=/ read -ra parts <<<"${p#/}"
  for part in "${parts[@]}"; do
    [[ -z "$part" ]] && continue
    local body
    body=$(jq -n --arg w "$INFISICAL_PROJECT_ID" --arg e "$env" --arg n "$part" --arg p "$parent" '{workspaceId:$w, environment:$e, name:$n, path:$p}')
    # Infisical answers an existing folder with that folder: idempotent.
    call POST /v1/folders "$body" >/dev/null || { echo "infisical_setup: folder $parent$part in $env: $status" >&2; exit 1; }
    parent="${parent%/}/$part"
  done
  echo "folder $env:$p ok"
}

ensure_identity() { # env name path -> prints the identity id
  local env=$1 name=$2 p=$3 id res
  : "${INFISICAL_ORG_ID:?set INFISICAL_ORG_ID}"
  res=$(call GET "/v2/organizations/$INFISICAL_ORG_ID/identity-memberships?limit=100") || { echo "list identities: $status" >&2; exit 1; }
  id=$(jq -r --arg n "$name" '.identityMemberships[]? | select(.identity.name == $n) | .identity.id' <<<"$res" | head -1)
  if [[ -z "$id" ]]; then
    res=$(call POST /v1/identities "$(jq -n --arg n "$name" --arg o "$INFISICAL_ORG_ID" '{name:$n, organizationId:$o, role:"no-access"}')") ||
      { echo "create identity $name: $status" >&2; exit 1; }
    id=$(jq -r '.identity.id // "dry-run-id"' <<<"$res")
    # Short-lived access tokens, renewed by the SDK before they expire.
    call POST "/v1/auth/universal-auth/identities/$id" '{"accessTokenTTL":3600,"accessTokenMaxTTL":86400,"accessTokenNumUsesLimit":0}' >/dev/null ||
      { echo "universal auth for $name: $status" >&2; exit 1; }
  fi
  # Project membership without a role, then exactly one privilege.
  call POST "/v2/workspace/$INFISICAL_PROJECT_ID/identity-memberships/$id" '{"role":"no-access"}' >/dev/null ||
    [[ "$status" == 400 || "$status" == 409 ]] || { echo "membership of $name: $status" >&2; exit 1; }
  local priv
  priv=$(jq -n --arg i "$id" --arg w "$INFISICAL_PROJECT_ID" --arg s "$name-own-folder" --arg e "$env" --arg g "${p%/}/**" \
    '{identityId:$i, projectId:$w, slug:$s, type:{isTemporary:false},
      permissions:[{subject:"secrets", action:["read","create","edit","delete"], conditions:{environment:$e, secretPath:{"$glob":$g}}},
                   {subject:"secret-folders", action:["read","create"], conditions:{environment:$e, secretPath:{"$glob":$g}}}]}')
  call POST /v2/identity-project-additional-privilege "$priv" >/dev/null ||
    [[ "$status" == 400 || "$status" == 409 ]] || { echo "privilege of $name: $status" >&2; exit 1; }
  echo "$id"
}

ensure_client_secret() { # env id name
  local env=$1 id=$2 name=$3 res
  res=$(call GET "/v1/auth/universal-auth/identities/$id/client-secrets") || { echo "client secrets of $name: $status" >&2; exit 1; }
  if [[ $(jq '[.clientSecretData[]? | select(.isClientSecretRevoked | not)] | length' <<<"$res") -gt 0 ]]; then
    echo "client secret of $name: exists (not shown; rotate it in Infisical to get a new one)"
    return
  fi
  res=$(call POST "/v1/auth/universal-auth/identities/$id/client-secrets" '{"description":"authledger","ttl":0,"numUsesLimit":0}') ||
    { echo "client secret for $name: $status" >&2; exit 1; }
  (( dry )) && { echo "client secret of $name: would be written to $out/$env.client-secret"; return; }
  mkdir -p "$out" && chmod 700 "$out"
  (umask 077; jq -r '.clientSecret' <<<"$res" >"$out/$env.client-secret")
  echo "client secret of $name: written to $out/$env.client-secret"
}

ensure_approval() {
  local body
  body=$(jq -n --arg w "$INFISICAL_PROJECT_ID" --arg a "${INFISICAL_APPROVERS:-}" \
    '{workspaceId:$w, name:"authledger-prod-config", environment:"prod", secretPath:"/authledger-config/**", approvals:1,
      approvers:[($a | split(",") | map(select(. != "")) | .[] | {type:"user", id:.})], enforcementLevel:"hard"}')
  call POST /v1/secret-approvals "$body" >/dev/null || [[ "$status" == 400 || "$status" == 409 ]] ||
    { echo "approval policy: $status" >&2; exit 1; }
  echo "approval policy prod:/authledger-config/** ok"
}

login
for f in "$confdir"/*.yaml; do
  env=$(yaml "$f" environment); p=$(yaml "$f" path); name=$(yaml "$f" identity)
  [[ -n "$env" && -n "$p" && -n "$name" ]] || { echo "infisical_setup: $f lacks environment, path or identity" >&2; exit 2; }
  in_steps folders && ensure_folder "$env" "$p"
  if in_steps identity; then
    id=$(ensure_identity "$env" "$name" "$p")
    echo "identity $name ok"
    in_steps secret && ensure_client_secret "$env" "$id" "$name"
  fi
done
in_steps approval && ensure_approval
echo "infisical_setup: done"
