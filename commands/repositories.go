package commands

import (
	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/domain/keyring"
	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/domain/token"
	"github.com/authledger/authledger/eventstore"
)

// The repositories of the aggregates; each is a Repository over the
// aggregate's codec and Load.
type (
	FamilyRepository  = Repository[refreshtoken.FamilyID, *refreshtoken.Family, refreshtoken.Event]
	SessionRepository = Repository[string, *session.Session, session.Event]
	TokenRepository   = Repository[string, *token.Token, token.Event]
	ClientRepository  = Repository[client.ID, *client.Client, client.Event]
	KeyringRepository = Repository[struct{}, *keyring.Ring, keyring.Event]
)

// Families is the refresh-family repository.
func Families(store eventstore.Store) *FamilyRepository {
	return NewRepository(store, refreshtoken.Decode, refreshtoken.Load)
}

// Sessions is the session repository.
func Sessions(store eventstore.Store) *SessionRepository {
	return NewRepository(store, session.Decode, session.Load)
}

// Tokens is the issued-token repository (token-<jti> streams).
func Tokens(store eventstore.Store) *TokenRepository {
	return NewRepository(store, token.Decode, token.Load)
}

// Clients is the service-client repository.
func Clients(store eventstore.Store) *ClientRepository {
	return NewRepository(store, client.Decode, client.Load)
}

// Keyring is the key-ring repository; the ring is one stream, so its id is
// struct{}{}.
func Keyring(store eventstore.Store) *KeyringRepository {
	return NewRepository(store,
		func(typ string, data []byte) (keyring.Event, error) { return keyring.Decode(typ, data) },
		func(_ struct{}, es []keyring.Event) *keyring.Ring { return keyring.Load(es) })
}
