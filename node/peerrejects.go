package node

import (
	"log/slog"
	"net"
	"sync"
	"time"
)

// maxUnauthedPeers bounds the peer port's connections that have not
// passed PEERAUTH yet (each holds at most a small first command for
// peer.AuthTimeout): more are closed at once.
const maxUnauthedPeers = 256

// peerRejectLogEvery is how often a refusal of one source address is
// logged: a scanner or a misconfigured node hammering the port makes one
// line a minute, with the count of the refusals not logged.
const peerRejectLogEvery = time.Minute

// maxPeerRejectSources bounds the sources remembered; past it the oldest
// are forgotten (they are logged again at their next refusal).
const maxPeerRejectSources = 4096

// peerRejects logs the peer port's refusals at most once a minute per
// source address. Safe for concurrent use.
type peerRejects struct {
	mu      sync.Mutex
	sources map[string]*rejectSource
}

type rejectSource struct {
	logged time.Time
	quiet  int // refusals since, not logged
}

// log logs the refusal of a connection from remote (host:port) for
// reason, unless its host was logged less than a minute ago.
func (p *peerRejects) log(l *slog.Logger, remote, reason string) {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	now := time.Now()
	p.mu.Lock()
	if p.sources == nil {
		p.sources = map[string]*rejectSource{}
	}
	s := p.sources[host]
	if s != nil && now.Sub(s.logged) < peerRejectLogEvery {
		s.quiet++
		p.mu.Unlock()
		return
	}
	quiet := 0
	if s != nil {
		quiet = s.quiet
	}
	if len(p.sources) >= maxPeerRejectSources {
		for h, o := range p.sources {
			if now.Sub(o.logged) >= peerRejectLogEvery {
				delete(p.sources, h)
			}
		}
		if len(p.sources) >= maxPeerRejectSources {
			clear(p.sources)
		}
	}
	p.sources[host] = &rejectSource{logged: now}
	p.mu.Unlock()
	l.Warn("peer port: rejected a connection", "remote", remote, "reason", reason, "unlogged_since_last", quiet)
}
