package peer

import "testing"

// A PEERAUTH with the cluster's secret is admitted; anything else is
// answered with the error the server sends before closing.
func TestAuthenticate(t *testing.T) {
	for _, tc := range []struct {
		wire     string
		secret   string
		starting bool
		reply    string // "" admitted
	}{
		{"PEERAUTH s3 n1", "s3", false, ""},
		{"peerauth s3 n1", "s3", false, ""},
		{"PEERAUTH s3 n1", "s4", false, "ERR invalid cluster secret"},
		{"PEERAUTH s n1", "s3", false, "ERR invalid cluster secret"},
		{"PEERAUTH s3 n1", "", false, "ERR invalid cluster secret"},
		{"PEERAUTH s3 n1", "", true, "ERR this node is starting; retry"},
		{"FWD 0 2 0 GET k", "s3", false, "ERR PEERAUTH <secret> <node-id> must come first"},
		{"FWD 0 2 0 GET k", "s3", true, "ERR PEERAUTH <secret> <node-id> must come first"},
	} {
		auth, err := Authenticate(words(tc.wire), tc.secret, tc.starting)
		switch {
		case tc.reply == "" && err != nil:
			t.Errorf("%q (secret %q): %v", tc.wire, tc.secret, err)
		case tc.reply == "" && auth.Node != "n1":
			t.Errorf("%q: node %q, want n1", tc.wire, auth.Node)
		case tc.reply != "" && err == nil:
			t.Errorf("%q (secret %q, starting %v) admitted", tc.wire, tc.secret, tc.starting)
		case tc.reply != "" && ErrorReply(err) != tc.reply:
			t.Errorf("%q: reply %q, want %q", tc.wire, ErrorReply(err), tc.reply)
		}
	}
}
