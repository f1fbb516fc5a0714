package leaf

import (
	"fmt"
	"sync"
	"time"
)

// State is the leaf's connection state, as GET /api/leaf/status reports it.
type State string

const (
	StateConnected            State = "connected"
	StateUnreachable          State = "unreachable"
	StateTokenRejected        State = "token_rejected"
	StateLeafNodesDisabled    State = "leaf_nodes_disabled"
	StateUntrustedCertificate State = "untrusted_certificate"
	StateVersionMismatch      State = "version_mismatch"
)

// Status is a snapshot of the connection to the origin.
type Status struct {
	State   State
	Message string
	// Since is when the current state began.
	Since time.Time
	// LastSync is the last successful template fetch (zero if never).
	LastSync time.Time
	// NextRetry is when a failed connection is tried again (zero when connected).
	NextRetry time.Time
	// Origin is what the origin said about itself at the last hello.
	OriginName, OriginVersion string
}

// Healthy reports whether the leaf is connected.
func (s Status) Healthy() bool { return s.State == StateConnected }

// tracker holds the current status; every change is logged once, and
// every set wakes whoever waits (see Service.Await).
type tracker struct {
	mu     sync.RWMutex
	s      Status
	logger func(Status)
	woken  chan struct{} // closed at the next set; nil until someone waits
}

// next returns a channel closed at the next set.
func (t *tracker) next() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.woken == nil {
		t.woken = make(chan struct{})
	}
	return t.woken
}

func (t *tracker) get() Status {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.s
}

// set records a new state and message. Since moves only when the state
// changes, so "unreachable since 10:02" stays true across retries.
func (t *tracker) set(state State, msg string, now time.Time, update func(*Status)) {
	t.mu.Lock()
	changed := t.s.State != state || t.s.Message != msg
	if t.s.State != state {
		t.s.Since = now
	}
	t.s.State = state
	t.s.Message = msg
	if update != nil {
		update(&t.s)
	}
	snap := t.s
	if t.woken != nil {
		close(t.woken)
		t.woken = nil
	}
	t.mu.Unlock()
	if changed && t.logger != nil {
		t.logger(snap)
	}
}

// describe turns an origin error into the state and the message a person
// reads in the banner and the log: what happened and what to do.
func describe(err error, origin string) (State, string) {
	oe, ok := err.(*OriginError)
	if !ok {
		return StateUnreachable, fmt.Sprintf("The origin %s is unreachable: %v.", origin, err)
	}
	switch oe.State {
	case StateTokenRejected:
		return oe.State, "The origin rejected this leaf's API token. Create a new token on the origin, put it in server.origin.token, and reload knot (send it SIGHUP: kill -HUP <pid>) or restart it."
	case StateLeafNodesDisabled:
		return oe.State, fmt.Sprintf("Leaf nodes are disabled on the origin %s (server.cluster.allow_leaf_nodes = false). Ask its administrator to allow them.", origin)
	case StateUntrustedCertificate:
		return oe.State, fmt.Sprintf("The origin's certificate is not trusted (%s). Either set server.origin.ca_file to the origin's certificate or its CA (for knot's self-signed one: knot-selfsigned.crt in the origin's data directory), or, if the certificate names another host, set the origin's server.url to the address this leaf uses: the origin then generates its certificate for that name at its next start.", oe.Detail)
	case StateVersionMismatch:
		return oe.State, fmt.Sprintf("The origin and this leaf speak different leaf protocol versions (%s). Run the same knot version on both.", oe.Detail)
	default:
		if oe.Local {
			return StateUnreachable, fmt.Sprintf("Syncing with the origin %s failed: %s.", origin, oe.Detail)
		}
		return StateUnreachable, fmt.Sprintf("The origin %s is unreachable: %s.", origin, oe.Detail)
	}
}
