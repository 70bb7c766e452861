package meta

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
)

// HashPassword returns "sha256:<salt>:<digest>" for a table record, with a
// fresh random salt. A salted SHA-256 and not bcrypt: AUTH runs on every
// new connection (redis-benchmark opens 50 at once), and the secret here is
// an application password, not a human's reused one. Redis's ACL stores
// unsalted SHA-256.
func HashPassword(pw string) string {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		panic("meta: crypto/rand failed: " + err.Error()) // never happens on Linux
	}
	return "sha256:" + hex.EncodeToString(salt) + ":" + digest(salt, pw)
}

func digest(salt []byte, pw string) string {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(pw))
	return hex.EncodeToString(h.Sum(nil))
}

// CheckPassword reports whether pw matches a HashPassword output, in time
// that does not depend on where they differ.
func CheckPassword(hash, pw string) bool {
	parts := strings.Split(hash, ":")
	if len(parts) != 3 || parts[0] != "sha256" {
		return false
	}
	salt, err := hex.DecodeString(parts[1])
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(digest(salt, pw)), []byte(parts[2])) == 1
}

// PeerHTTPCredential is what a node sends, as api.AuthPeer, to another
// node's HTTP API for the requests nodes make of each other: an HMAC of
// a fixed label under the cluster secret, so that the secret itself never
// travels over HTTP.
func PeerHTTPCredential(secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("pika-node http peer"))
	return hex.EncodeToString(mac.Sum(nil))
}

// CheckPeerHTTPCredential reports whether cred is PeerHTTPCredential of
// secret (never for an empty secret), in constant time.
func CheckPeerHTTPCredential(secret, cred string) bool {
	if secret == "" {
		return false
	}
	return hmac.Equal([]byte(PeerHTTPCredential(secret)), []byte(cred))
}
