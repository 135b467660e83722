package commands

// Actor names in event metadata follow one convention, the one the service
// registry and the client-credentials grant started: "client:<id>" for an
// authenticated OAuth client (a login service, an app presenting a refresh
// token), "subject:<id>" for an end user acting through a session cookie
// or a user access token. Operators use "cli:<user>"; background jobs their
// own name ("scheduler", "serve").

// ClientActor is the metadata actor of an authenticated client.
func ClientActor(clientID string) string { return "client:" + clientID }

// SubjectActor is the metadata actor of an end user.
func SubjectActor(subject string) string { return "subject:" + subject }

// as returns meta with the actor set to who acts. Commands that know their
// caller set it themselves, so no event they append goes without one and
// every caller spells it the same way.
func (m Metadata) as(actor string) Metadata {
	m.Actor = actor
	return m
}
