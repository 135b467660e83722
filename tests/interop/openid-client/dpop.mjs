// Drives authledger's DPoP flows (RFC 9449) with openid-client, an OAuth
// client not written here: client_credentials and a refresh, each bound to
// a key openid-client generated, for EdDSA and ES256. It also calls a
// resource server (the Go test's, which checks token and proof with
// client/verifier) through openid-client's own DPoP proofs.
//
// Input (environment): ISSUER, CLIENT_ID, CLIENT_SECRET, RS_URL.
// Output: one JSON object on stdout per algorithm; exit 1 on any failure.
import assert from 'node:assert/strict'
import * as client from 'openid-client'
import * as jose from 'jose'

const { ISSUER, CLIENT_ID, CLIENT_SECRET, RS_URL } = process.env
for (const [k, v] of Object.entries({ ISSUER, CLIENT_ID, CLIENT_SECRET, RS_URL })) {
  if (!v) throw new Error(`${k} is required`)
}

// The test server speaks plain HTTP on 127.0.0.1.
const config = await client.discovery(new URL(ISSUER), CLIENT_ID, undefined, client.ClientSecretBasic(CLIENT_SECRET), {
  execute: [client.allowInsecureRequests],
  algorithm: 'oauth2',
})
const meta = config.serverMetadata()
assert.deepEqual(meta.dpop_signing_alg_values_supported, ['EdDSA', 'Ed25519', 'ES256'])

async function thumbprint(keyPair) {
  return jose.calculateJwkThumbprint(await jose.exportJWK(keyPair.publicKey), 'sha256')
}

async function refusal(promise) {
  try {
    await promise
  } catch (err) {
    return err.error ?? err.code ?? String(err)
  }
  return 'accepted'
}

for (const alg of ['EdDSA', 'ES256']) {
  const keyPair = await client.randomDPoPKeyPair(alg)
  const jkt = await thumbprint(keyPair)
  const DPoP = client.getDPoPHandle(config, keyPair)

  // client_credentials, bound to the key.
  const cc = await client.clientCredentialsGrant(config, { scope: 'sessions:create' }, { DPoP })
  assert.equal(cc.token_type, 'dpop', 'client_credentials token_type')

  // A resource server request with openid-client's proof (htm, htu, ath).
  const rs = await client.fetchProtectedResource(config, cc.access_token, new URL(RS_URL), 'GET', undefined, undefined, { DPoP })
  assert.equal(rs.status, 200, `resource server: ${rs.status} ${rs.headers.get('www-authenticate')}`)
  const seen = await rs.json()
  assert.equal(seen.jkt, jkt, 'the resource server saw the token bound to our key')

  // authledger's own /v1 API with the bound token: a session whose
  // refresh family is bound to the same key.
  const started = await client.fetchProtectedResource(config, cc.access_token, new URL(`${ISSUER}/v1/sessions`), 'POST',
    JSON.stringify({ subject: `interop-${alg}`, amr: ['hwk'], acr: 'aal2' }), new Headers({ 'content-type': 'application/json' }), { DPoP })
  assert.equal(started.status, 201, `POST /v1/sessions: ${started.status} ${await started.clone().text()}`)
  const session = await started.json()
  assert.equal(session.token_type, 'DPoP')

  // The refresh flow with the key, then with another key (refused).
  const refreshed = await client.refreshTokenGrant(config, session.refresh_token, undefined, { DPoP })
  assert.equal(refreshed.token_type, 'dpop', 'refresh token_type')
  assert.ok(refreshed.refresh_token && refreshed.refresh_token !== session.refresh_token, 'a new refresh token')
  const rs2 = await client.fetchProtectedResource(config, refreshed.access_token, new URL(RS_URL), 'GET', undefined, undefined, { DPoP })
  assert.equal(rs2.status, 200, `resource server with the refreshed token: ${rs2.status}`)

  const other = client.getDPoPHandle(config, await client.randomDPoPKeyPair(alg))
  const withOtherKey = await refusal(client.refreshTokenGrant(config, refreshed.refresh_token, undefined, { DPoP: other }))
  assert.equal(withOtherKey, 'invalid_grant', 'a refresh with another key')
  // The refused attempt must not have spent the token: the right key still refreshes.
  const again = await client.refreshTokenGrant(config, refreshed.refresh_token, undefined, { DPoP })
  assert.equal(again.token_type, 'dpop')

  // The bound token as a Bearer token is refused by the resource server.
  const bearer = await fetch(RS_URL, { headers: { authorization: `Bearer ${cc.access_token}` } })
  assert.equal(bearer.status, 401, 'bound token as Bearer')

  console.log(JSON.stringify({ alg, jkt, client_credentials: cc.token_type, refresh: refreshed.token_type, other_key: withOtherKey,
    access_token: again.access_token }))
}
