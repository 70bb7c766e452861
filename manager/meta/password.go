package meta

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// HashPassword returns a table password's record: "bcrypt:" and bcrypt
// (cost 10, about 65 ms on a 2-core VM) of the password's SHA-256 in hex
// (bcrypt reads 72 bytes at most; Redis passwords are often longer). A
// slow hash, so that a copy of etcd does not give the passwords away at
// SHA-256's speed; the nodes remember the passwords they verified
// (node/passwordcache.go), so that AUTH on every new connection does not
// pay it again.
func HashPassword(pw string) string { return HashPasswordCost(pw, bcrypt.DefaultCost) }

// HashPasswordCost is HashPassword with bcrypt's cost (4..31; each step
// doubles the time). Tests lower it: the race detector makes bcrypt ten
// times slower.
func HashPasswordCost(pw string, cost int) string { return HashPrehashed(prehash(pw), cost) }

// HashPrehashed is HashPasswordCost of a password given as its SHA-256 in
// lowercase hex (ACL's "#<hash>" rule names a password that way).
func HashPrehashed(sha256Hex string, cost int) string {
	h, err := bcrypt.GenerateFromPassword([]byte(sha256Hex), cost)
	if err != nil {
		panic("meta: bcrypt failed: " + err.Error()) // only for inputs past 72 bytes, which prehash rules out, and a cost out of range
	}
	return "bcrypt:" + string(h)
}

func prehash(pw string) string {
	d := sha256.Sum256([]byte(pw))
	return hex.EncodeToString(d[:])
}

// HashToken returns "sha256:<salt>:<digest>" for a random token (the
// admin token), with a fresh random salt: a fast hash is enough for 256
// random bits, which no guessing reaches. Table passwords written before
// HashPassword used bcrypt have this form too.
func HashToken(tok string) string {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		panic("meta: crypto/rand failed: " + err.Error()) // never happens on Linux
	}
	return "sha256:" + hex.EncodeToString(salt) + ":" + digest(salt, tok)
}

func digest(salt []byte, pw string) string {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(pw))
	return hex.EncodeToString(h.Sum(nil))
}

// CheckPrehashed reports whether a HashPassword record is of the
// password whose SHA-256 in hex is sha256Hex.
func CheckPrehashed(hash, sha256Hex string) bool {
	b, ok := strings.CutPrefix(hash, "bcrypt:")
	return ok && bcrypt.CompareHashAndPassword([]byte(b), []byte(sha256Hex)) == nil
}

// CheckPassword reports whether pw matches a HashPassword or HashToken
// output, in time that does not depend on where they differ.
func CheckPassword(hash, pw string) bool {
	if b, ok := strings.CutPrefix(hash, "bcrypt:"); ok {
		return bcrypt.CompareHashAndPassword([]byte(b), []byte(prehash(pw))) == nil
	}
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
