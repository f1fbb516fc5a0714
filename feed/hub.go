// Package feed tells a server's open leaf feeds that the change feed (the
// changes table) has grown, so that a change reaches every connected leaf
// within a moment, whichever server of a cluster made it.
//
// On PostgreSQL the hub LISTENs on channel knot_changes, which the change
// trigger notifies at commit on every server of the cluster. On SQLite
// there is one server, and the hub polls the newest id in-process every
// 200 ms: one indexed MAX(id) per server, however many leaves are
// connected. On both it also polls every few seconds, a safety net for a
// notification lost while the listening connection was being re-made.
package feed

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/knot-dev/knot/clock"
	"github.com/knot-dev/knot/models"
)

const (
	sqlitePoll   = 200 * time.Millisecond
	fallbackPoll = 5 * time.Second
	relisten     = time.Second
)

// Hub fans the newest change id out to every subscriber on this server.
type Hub struct {
	db  *gorm.DB
	dsn string // PostgreSQL DSN to LISTEN with; empty on SQLite
	log *slog.Logger
	clk clock.Clock

	mu     sync.Mutex
	latest int64
	subs   map[chan struct{}]struct{}

	done     chan struct{}
	shutdown sync.Once
}

// New returns a hub for db whose polls run on clk. listenDSN is the
// PostgreSQL DSN (empty on SQLite): LISTEN needs a connection of its own
// outside the pool.
func New(db *gorm.DB, listenDSN string, log *slog.Logger, clk clock.Clock) *Hub {
	return &Hub{db: db, dsn: listenDSN, log: log, clk: clk, subs: map[chan struct{}]struct{}{}, done: make(chan struct{})}
}

// Done is closed when the server shuts down: open feeds end then, so that
// a graceful shutdown does not wait on them and their leaves notice at once.
func (h *Hub) Done() <-chan struct{} { return h.done }

// Shutdown closes Done. Calling it twice is fine.
func (h *Hub) Shutdown() { h.shutdown.Do(func() { close(h.done) }) }

// Subscribe returns a channel that receives a signal whenever the feed
// grows (signals coalesce: one pending at most), and a function to stop.
func (h *Hub) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}
}

// bump records id as seen and wakes every subscriber when it is new.
func (h *Hub) bump(id int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if id <= h.latest {
		return
	}
	h.latest = id
	for ch := range h.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (h *Hub) poll(ctx context.Context) {
	latest, err := models.LatestChange(ctx, h.db)
	if err != nil {
		if ctx.Err() == nil {
			h.log.Debug("poll the change feed", "err", err)
		}
		return
	}
	h.bump(latest)
}

// Run watches for new changes until ctx ends.
func (h *Hub) Run(ctx context.Context) {
	h.poll(ctx)
	if h.dsn == "" {
		h.pollEvery(ctx, sqlitePoll)
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() { h.pollEvery(ctx, fallbackPoll) })
	wg.Go(func() { h.listen(ctx) })
	wg.Wait()
}

func (h *Hub) pollEvery(ctx context.Context, every time.Duration) {
	clock.Every(ctx, h.clk, every, func() { h.poll(ctx) })
}

// listen holds a LISTEN connection, re-made after a second whenever it
// breaks (a database restart); each new connection first catches up by a
// poll, since notifications sent while it was down are gone.
func (h *Hub) listen(ctx context.Context) {
	for ctx.Err() == nil {
		err := h.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		h.log.Warn("listening for cluster changes failed; retrying", "err", err)
		wait := h.clk.NewTimer(relisten)
		select {
		case <-ctx.Done():
			wait.Stop()
			return
		case <-wait.C():
		}
	}
}

func (h *Hub) listenOnce(ctx context.Context) error {
	// A network deadline: real time, whatever the hub's clock.
	connectCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.Connect(connectCtx, h.dsn)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `LISTEN knot_changes`); err != nil {
		return err
	}
	h.poll(ctx)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if id, err := strconv.ParseInt(n.Payload, 10, 64); err == nil {
			h.bump(id)
		}
	}
}
