package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/webctx"
)

// The live feed (GET /api/leaf/v1/feed): server-sent events over one
// long-lived response, which passes proxies like any HTTP response and
// needs nothing beyond net/http on either side. Long-polling would do the
// same with a request per change; SSE keeps one open connection, which is
// also how the origin knows a leaf is online.
//
// The leaf sends the cursor it holds (?cursor=N or Last-Event-ID). The
// origin answers "resync" when it cannot serve that cursor (never synced,
// pruned history, a restored database), then sends every change after the
// cursor and each new one as it commits, and a ping every few seconds
// with the cursor reached, so that a dead link is noticed on both sides.

const (
	// feedKeepalive is how often an idle feed sends a ping.
	feedKeepalive = 2 * time.Second
	// feedSeenEvery is how often an open feed records the leaf as seen.
	feedSeenEvery = 15 * time.Second
	// feedBatch bounds the changes read per query.
	feedBatch = 500
	// ChangeRetention is how many changes the feed keeps for leaves that
	// were away; older cursors resync.
	ChangeRetention = 10000
)

func (h *Handlers) leafFeed(c *gin.Context) error {
	if h.hub == nil {
		return models.ErrNotFound
	}
	ctx := c.Request.Context()
	cursor, err := feedCursor(c)
	if err != nil {
		return badRequest(err.Error())
	}
	f := &feedStream{h: h, ctx: ctx, id: webctx.Identity(ctx), conn: feedConnID()}
	f.row, err = models.OpenLeafFeed(ctx, h.db, h.leafNode(c, f.id), f.conn)
	h.leafRecords.add()
	if err != nil {
		return failed("record this leaf", err)
	}
	defer f.close()
	oldest, latest, err := models.ChangeBounds(ctx, h.db)
	if err != nil {
		return failed("read the change feed", err)
	}
	wake, stop := h.hub.Subscribe()
	defer stop()
	f.start(c)
	if cursor == 0 || cursor > latest || (oldest > 0 && cursor < oldest-1) {
		cursor = latest
		if f.send(leaf.EventResync, 0, leaf.FeedCursor{Cursor: cursor}) != nil {
			return nil
		}
	}
	f.cursor = cursor
	if f.ping() != nil {
		return nil
	}
	f.follow(wake)
	return nil
}

// feedStream is one open feed: the leaf it serves, where it has got to,
// and the record that shows the leaf online.
type feedStream struct {
	h      *Handlers
	ctx    context.Context
	id     *models.Identity
	conn   string
	row    uint
	cursor int64
	w      gin.ResponseWriter
	rc     *http.ResponseController
}

// start sends the headers of an event stream.
func (f *feedStream) start(c *gin.Context) {
	f.w = c.Writer
	// The feed outlives http.Server's WriteTimeout by design; the pings
	// and the leaf's read timeout take its place.
	f.rc = http.NewResponseController(c.Writer)
	if err := f.rc.SetWriteDeadline(time.Time{}); err != nil {
		f.h.log.Warn("leaf feed: cannot lift the write deadline; the feed will be cut after server.WriteTimeout", "err", err)
	}
	hd := c.Writer.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	c.Status(http.StatusOK)
}

// close records the leaf as offline. The request's context is done by
// now; the record must still be written, or the leaf would look online
// until it goes stale.
func (f *feedStream) close() {
	defer f.h.leafRecords.add()
	if err := models.CloseLeafFeed(context.WithoutCancel(f.ctx), f.h.db, f.row, f.conn, f.h.now()); err != nil {
		f.h.log.Warn("leaf feed: record the leaf as offline", "err", err)
	}
}

func (f *feedStream) send(event string, eventID int64, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	if eventID > 0 {
		fmt.Fprintf(f.w, "id: %d\n", eventID)
	}
	_, err = fmt.Fprintf(f.w, "event: %s\ndata: %s\n\n", event, b)
	return err
}

// ping sends the cursor reached and flushes what was sent before it.
func (f *feedStream) ping() error {
	if err := f.send(leaf.EventPing, 0, leaf.FeedCursor{Cursor: f.cursor}); err != nil {
		return err
	}
	return f.rc.Flush()
}

// follow sends every change after the cursor, then each new one as the hub
// wakes it, with a ping every feedKeepalive, until the leaf goes, the
// server stops, or the leaf's own token is deleted.
func (f *feedStream) follow(wake <-chan struct{}) {
	ping := time.NewTicker(feedKeepalive)
	defer ping.Stop()
	lastSeen := f.h.now()
	for {
		full, done := f.pump()
		if done {
			return
		}
		if full {
			continue
		}
		select {
		case <-f.ctx.Done():
			return
		case <-f.h.hub.Done():
			return
		case <-wake:
		case <-ping.C:
			if f.ping() != nil {
				return
			}
			lastSeen = f.seen(lastSeen)
		}
	}
}

// pump sends one batch of changes. full means there may be more at once;
// done means the feed ends here.
func (f *feedStream) pump() (full, done bool) {
	changes, err := models.ChangesAfter(f.ctx, f.h.db, f.cursor, feedBatch)
	if err != nil {
		// The leaf reconnects with its cursor and misses nothing.
		if f.ctx.Err() == nil {
			f.h.log.Warn("leaf feed: read changes", "err", err)
		}
		return false, true
	}
	tokenGone := false
	for _, ch := range changes {
		f.cursor = ch.ID
		if !feedConcerns(ch, f.id) {
			continue
		}
		if f.send(leaf.EventChange, ch.ID, leaf.FeedChange{Kind: ch.Kind}) != nil {
			return false, true
		}
		tokenGone = tokenGone || ch.Kind == models.ChangeToken
	}
	if len(changes) > 0 && f.ping() != nil {
		return false, true
	}
	// When this leaf's token is gone, it learns so from its next request;
	// the stream it opened with that token ends here.
	return len(changes) == feedBatch, tokenGone
}

// seen records the leaf as seen, at most every feedSeenEvery, and returns
// when it last did.
func (f *feedStream) seen(last time.Time) time.Time {
	now := f.h.now()
	if now.Sub(last) < feedSeenEvery {
		return last
	}
	if err := models.TouchLeafFeed(f.ctx, f.h.db, f.row, f.conn, now); err != nil && f.ctx.Err() == nil {
		f.h.log.Warn("leaf feed: record the leaf as seen", "err", err)
	}
	return now
}

// feedConcerns reports whether a change matters to the leaf connected as
// id: templates, variables and roles always; a user only when it is the
// token's owner; a token only when it is the leaf's own.
func feedConcerns(ch models.Change, id *models.Identity) bool {
	switch ch.Kind {
	case models.ChangeUser:
		return ch.SubjectID == int64(id.ID)
	case models.ChangeToken:
		return ch.SubjectID == int64(id.TokenID)
	}
	return true
}

// feedConnID names one feed connection, so that closing it cannot mark
// offline a leaf that has already reconnected elsewhere.
func feedConnID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func feedCursor(c *gin.Context) (int64, error) {
	raw := c.Query("cursor")
	if raw == "" {
		raw = c.GetHeader("Last-Event-ID")
	}
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("cursor must be a whole number ≥ 0, not %q", truncate(raw, 40))
	}
	return n, nil
}

// leafNode is the leaf_nodes row a leaf request describes.
func (h *Handlers) leafNode(c *gin.Context, id *models.Identity) models.LeafNode {
	tokenID := id.TokenID
	return models.LeafNode{
		TokenID:    &tokenID,
		UserID:     id.ID,
		LeafURL:    cleanLeafURL(c.GetHeader(leaf.HeaderLeafURL)),
		Version:    truncate(c.GetHeader(leaf.HeaderLeafVersion), 64),
		RemoteAddr: c.ClientIP(),
		LastSeenAt: h.now().UTC(),
	}
}
