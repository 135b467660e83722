package client

import "slices"

// Reserved names: scopes and audiences that are authledger's own powers.
// They stay grantable (a login service needs sessions:create, an auditor
// audit:read), but every registration says which of its grants are such
// powers, so an admin cannot hand one out without noticing. Each entry
// says what the name allows; docs/services.md lists the same table.
var (
	// PrivilegedScopes are the scopes authledger's own APIs act on.
	PrivilegedScopes = map[string]string{
		"services:admin":    "register, change, rotate and disable service clients: /v1/admin/services (so: grant itself any scope)",
		"sessions:create":   "start a session, with access and refresh tokens, for any subject it names: POST /v1/sessions",
		"audit:read":        "read the whole audit trail and the signed checkpoints: /v1/audit/*",
		"projections:admin": "see and rebuild read models: /v1/admin/projections",
		"subjects:admin":    "forget a subject, crypto-shredding its personal data: DELETE /v1/admin/subjects/{subject}",
		"introspect:any":    "learn the details (sub, sid, acr, aud) of any token at /oauth2/introspect",
	}
	// PrivilegedAudiences are the audiences of user access tokens (DESIGN.md
	// §4): an M2M token carrying one is accepted wherever a user's is.
	PrivilegedAudiences = map[string]string{
		"api":  "the audience of user access tokens: the token is accepted by every API that accepts users' tokens",
		"edge": "the audience of user access tokens at the edge: accepted by every edge service that accepts users' tokens",
	}
)

// Privileges names the granted scopes and audiences that are authledger's
// own (PrivilegedScopes, PrivilegedAudiences), in grant order. The issuer
// URL, which every client may always ask for as an audience, is not
// listed: it is no grant.
type Privileges struct {
	Scopes    []string `json:"scopes,omitempty"`
	Audiences []string `json:"audiences,omitempty"`
}

// IsZero reports that no privileged name is granted.
func (p Privileges) IsZero() bool { return len(p.Scopes) == 0 && len(p.Audiences) == 0 }

// PrivilegesOf returns which of scopes and audiences are privileged.
func PrivilegesOf(scopes, audiences []string) Privileges {
	var p Privileges
	for _, s := range scopes {
		if _, ok := PrivilegedScopes[s]; ok && !slices.Contains(p.Scopes, s) {
			p.Scopes = append(p.Scopes, s)
		}
	}
	for _, a := range audiences {
		if _, ok := PrivilegedAudiences[a]; ok && !slices.Contains(p.Audiences, a) {
			p.Audiences = append(p.Audiences, a)
		}
	}
	return p
}

// Privileged returns the privileged names among the view's current grants.
func (v View) Privileged() Privileges { return PrivilegesOf(v.Scopes, v.Audiences) }
