package peer

import (
	"crypto/subtle"
	"time"
)

// The server's side of PEERAUTH (the client sends it first on every
// connection it dials: pool.go).

// AuthTimeout bounds how long an unauthenticated connection may stay open
// on the peer port: the server reads its PEERAUTH under this deadline.
const AuthTimeout = 5 * time.Second

// Authenticate checks a connection's first request, args, against the
// cluster's secret; starting is true while the server has no metadata
// yet, and so no secret to check against. It returns the asker's Auth,
// or the *RequestError to answer ("-ERR <msg>") before closing the
// connection. The secret is compared in constant time, and an empty one
// (a cluster without one) admits nobody.
func Authenticate(args [][]byte, secret string, starting bool) (Auth, error) {
	auth, err := ParseAuth(args)
	if err != nil {
		return Auth{}, err
	}
	if starting {
		return Auth{}, &RequestError{Msg: "this node is starting; retry"}
	}
	if secret == "" || subtle.ConstantTimeCompare([]byte(auth.Secret), []byte(secret)) != 1 {
		return Auth{}, &RequestError{Msg: "invalid cluster secret"}
	}
	return auth, nil
}
