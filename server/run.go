package server

import (
	"context"
	"errors"
	"net"
	"sync"
)

// Running is a server serving in this process: what the demo, the bench
// harnesses and the tests start, the way main runs one (background jobs,
// then Serve on a listener, then a graceful stop and Close).
type Running struct {
	*Server
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// Run starts s's background jobs and serves s on ln until Stop (or until
// ctx ends, which stops serving but leaves Close to Stop). The jobs run on
// a context of their own: they stop at Close, after Serve has drained the
// requests that may still hand them work.
func (s *Server) Run(ctx context.Context, ln net.Listener) *Running {
	s.Start(context.Background())
	sctx, cancel := context.WithCancel(ctx)
	r := &Running{Server: s, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Serve(sctx, ln) }()
	return r
}

// Stop shuts the server down gracefully (in-flight requests finish, open
// leaf feeds end), then stops its jobs and closes its database. Every
// call after the first returns the first one's error.
func (r *Running) Stop() error {
	r.once.Do(func() {
		r.cancel()
		serveErr := <-r.done
		r.err = errors.Join(serveErr, r.Server.Close())
	})
	return r.err
}
