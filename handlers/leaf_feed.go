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

func (h *Handlers) leafFeed(c *gin.Context) {
	if h.hub == nil {
		h.notFound(c)
		return
	}
	ctx := c.Request.Context()
	id := webctx.Identity(ctx)
	cursor, err := feedCursor(c)
	if err != nil {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": err.Error()})
		return
	}
	conn := feedConnID()
	row, err := models.OpenLeafFeed(ctx, h.db, h.leafNode(c, id), conn)
	if err != nil {
		h.failErr(c, err, "The origin could not record this leaf; try again.")
		return
	}
	defer func() {
		// The request's context is done by now; the record must still be
		// written, or the leaf would look online until it goes stale.
		if err := models.CloseLeafFeed(context.WithoutCancel(ctx), h.db, row, conn, h.now()); err != nil {
			h.log.Warn("leaf feed: record the leaf as offline", "err", err)
		}
	}()
	oldest, latest, err := models.ChangeBounds(ctx, h.db)
	if err != nil {
		h.failErr(c, err, "The origin could not read its change feed; try again.")
		return
	}
	wake, stop := h.hub.Subscribe()
	defer stop()

	// The feed outlives http.Server's WriteTimeout by design; the pings
	// and the leaf's read timeout take its place.
	rc := http.NewResponseController(c.Writer)
	if err := rc.SetWriteDeadline(time.Time{}); err != nil {
		h.log.Warn("leaf feed: cannot lift the write deadline; the feed will be cut after server.WriteTimeout", "err", err)
	}
	hd := c.Writer.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	c.Status(http.StatusOK)

	send := func(event string, eventID int64, data any) error {
		b, err := json.Marshal(data)
		if err != nil {
			return err
		}
		if eventID > 0 {
			fmt.Fprintf(c.Writer, "id: %d\n", eventID)
		}
		if _, err := fmt.Fprintf(c.Writer, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return err
		}
		return nil
	}
	flush := func() error { return rc.Flush() }

	if cursor == 0 || cursor > latest || (oldest > 0 && cursor < oldest-1) {
		cursor = latest
		if send(leaf.EventResync, 0, leaf.FeedCursor{Cursor: cursor}) != nil {
			return
		}
	}
	if send(leaf.EventPing, 0, leaf.FeedCursor{Cursor: cursor}) != nil || flush() != nil {
		return
	}
	ping := time.NewTicker(feedKeepalive)
	defer ping.Stop()
	lastSeen := h.now()
	for {
		changes, err := models.ChangesAfter(ctx, h.db, cursor, feedBatch)
		if err != nil {
			// The leaf reconnects with its cursor and misses nothing.
			if ctx.Err() == nil {
				h.log.Warn("leaf feed: read changes", "err", err)
			}
			return
		}
		tokenGone := false
		for _, ch := range changes {
			cursor = ch.ID
			if !feedConcerns(ch, id) {
				continue
			}
			if send(leaf.EventChange, ch.ID, leaf.FeedChange{Kind: ch.Kind}) != nil {
				return
			}
			tokenGone = tokenGone || ch.Kind == models.ChangeToken
		}
		if len(changes) > 0 && (send(leaf.EventPing, 0, leaf.FeedCursor{Cursor: cursor}) != nil || flush() != nil) {
			return
		}
		if tokenGone {
			// This leaf's token is gone: it learns so from its next
			// request; the stream it opened with that token ends here.
			return
		}
		if len(changes) == feedBatch {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-h.hub.Done():
			return
		case <-wake:
		case <-ping.C:
			if send(leaf.EventPing, 0, leaf.FeedCursor{Cursor: cursor}) != nil || flush() != nil {
				return
			}
			if now := h.now(); now.Sub(lastSeen) >= feedSeenEvery {
				lastSeen = now
				if err := models.TouchLeafFeed(ctx, h.db, row, conn, now); err != nil && ctx.Err() == nil {
					h.log.Warn("leaf feed: record the leaf as seen", "err", err)
				}
			}
		}
	}
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
