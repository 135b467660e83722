module github.com/authledger/authledger/client

go 1.26.0

require (
	github.com/go-jose/go-jose/v4 v4.1.9
	github.com/sony/gobreaker/v2 v2.4.0
	golang.org/x/oauth2 v0.38.0
	golang.org/x/sync v0.25.0
	golang.org/x/time v0.16.0
)

require github.com/stretchr/testify v1.12.1 // indirect
