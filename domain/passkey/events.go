package passkey

import "time"

// Stored event names; part of the ledger format.
const (
	TypeRegistered      = "passkey.registered.v1"
	TypeUsed            = "passkey.used.v1"
	TypeRenamed         = "passkey.renamed.v1"
	TypeRemoved         = "passkey.removed.v1"
	TypeCloneWarning    = "passkey.clone_warning.v1"
	TypeSignInSucceeded = "passkey.signin_succeeded.v1"
	TypeSignInFailed    = "passkey.signin_failed.v1"

	TypeEnrolmentIssued   = "passkey.enrolment_issued.v1"
	TypeEnrolmentRedeemed = "passkey.enrolment_redeemed.v1"
)

// Stream prefixes: one stream per subject's credentials, one per enrolment
// link, and one shared trail of failed sign-ins that name no known subject
// (an unknown credential, a garbled response).
const (
	StreamPrefix          = "passkeys-"
	EnrolmentStreamPrefix = "enrolment-"
	FailuresStream        = "passkey-failures"
)

// Stream is the ledger stream of subject's credentials.
func Stream(subject string) string { return StreamPrefix + subject }

// EnrolmentStream is the ledger stream of enrolment link id.
func EnrolmentStream(id string) string { return EnrolmentStreamPrefix + id }

// Event is one passkey event.
type Event interface{ EventType() string }

// Registered adds a credential to a subject. PublicKey is the COSE key
// (public, not a secret). Via says what proved the subject: "enrolment"
// (an operator's link, Enrolment names it), "session" (a signed-in,
// recently verified session) or "oidc" (an upstream sign-in).
type Registered struct {
	Subject         string    `json:"subject"`
	Credential      string    `json:"credential"` // base64url credential id
	PublicKey       []byte    `json:"public_key"`
	SignCount       uint32    `json:"sign_count"`
	AAGUID          string    `json:"aaguid,omitempty"`
	Name            string    `json:"name"`
	Transports      []string  `json:"transports,omitempty"`
	AttestationType string    `json:"attestation_type,omitempty"`
	BackupEligible  bool      `json:"backup_eligible,omitempty"`
	BackupState     bool      `json:"backup_state,omitempty"`
	Via             string    `json:"via"`
	Enrolment       string    `json:"enrolment,omitempty"`
	At              time.Time `json:"at"`
}

// Used records an assertion accepted for a credential and its new sign
// counter.
type Used struct {
	Subject    string    `json:"subject"`
	Credential string    `json:"credential"`
	SignCount  uint32    `json:"sign_count"`
	At         time.Time `json:"at"`
}

// Renamed changes a credential's display name.
type Renamed struct {
	Subject    string    `json:"subject"`
	Credential string    `json:"credential"`
	Name       string    `json:"name"`
	At         time.Time `json:"at"`
}

// Removed deletes a credential; it can never sign in again.
type Removed struct {
	Subject    string    `json:"subject"`
	Credential string    `json:"credential"`
	At         time.Time `json:"at"`
}

// CloneWarning: an assertion presented a sign counter that is not above
// the stored one (WebAuthn §6.1.1), a sign the authenticator may have been
// cloned. The sign-in that presented it was refused.
type CloneWarning struct {
	Subject    string    `json:"subject"`
	Credential string    `json:"credential"`
	Stored     uint32    `json:"stored"`
	Presented  uint32    `json:"presented"`
	At         time.Time `json:"at"`
}

// SignInSucceeded records a sign-in (or step-up, Purpose "step_up") that
// passed; the session it started or raised follows with the same
// correlation id.
type SignInSucceeded struct {
	Subject    string    `json:"subject"`
	Credential string    `json:"credential"`
	Purpose    string    `json:"purpose"` // "sign_in" or "step_up"
	ACR        string    `json:"acr"`
	AMR        []string  `json:"amr"`
	At         time.Time `json:"at"`
}

// SignInFailed records a refused sign-in and why (a Reason constant).
// Subject and Credential are empty when they could not be told.
type SignInFailed struct {
	Subject    string    `json:"subject,omitempty"`
	Credential string    `json:"credential,omitempty"`
	Reason     string    `json:"reason"`
	At         time.Time `json:"at"`
}

// Why a sign-in failed, as recorded.
const (
	ReasonChallenge         = "challenge"          // missing, spent or expired challenge
	ReasonVerification      = "verification"       // signature, origin, RP id, flags
	ReasonUserVerification  = "user_verification"  // UV flag missing
	ReasonUnknownCredential = "unknown_credential" // no such credential, or removed
	ReasonCounterRegression = "counter_regression" // see CloneWarning
	ReasonWrongSubject      = "wrong_subject"      // a step-up with another subject's passkey
	ReasonMalformed         = "malformed"          // the response could not be parsed
)

// EnrolmentIssued is an operator's one-time link for a subject's first
// passkey. SecretHash is the hex SHA-256 of the link's secret.
type EnrolmentIssued struct {
	ID         string    `json:"id"`
	Subject    string    `json:"subject"`
	SecretHash string    `json:"secret_hash"`
	ExpiresAt  time.Time `json:"expires_at"`
	At         time.Time `json:"at"`
}

// EnrolmentRedeemed spends the link; it commits with the credential's
// Registered in one append.
type EnrolmentRedeemed struct {
	ID         string    `json:"id"`
	Subject    string    `json:"subject"`
	Credential string    `json:"credential"`
	At         time.Time `json:"at"`
}

func (Registered) EventType() string        { return TypeRegistered }
func (Used) EventType() string              { return TypeUsed }
func (Renamed) EventType() string           { return TypeRenamed }
func (Removed) EventType() string           { return TypeRemoved }
func (CloneWarning) EventType() string      { return TypeCloneWarning }
func (SignInSucceeded) EventType() string   { return TypeSignInSucceeded }
func (SignInFailed) EventType() string      { return TypeSignInFailed }
func (EnrolmentIssued) EventType() string   { return TypeEnrolmentIssued }
func (EnrolmentRedeemed) EventType() string { return TypeEnrolmentRedeemed }
