package leaf

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// maxFeedLine bounds one line of the feed; events are a few dozen bytes.
const maxFeedLine = 64 << 10

// feedEvent is one server-sent event of the origin's feed.
type feedEvent struct {
	Name string
	ID   int64
	Data []byte
}

// cursor decodes the cursor of a resync or ping event.
func (e feedEvent) cursor() (int64, error) {
	var fc FeedCursor
	if err := json.Unmarshal(e.Data, &fc); err != nil || fc.Cursor < 0 {
		return 0, &OriginError{State: StateUnreachable, Detail: fmt.Sprintf("the origin's %s event is not what a knot origin sends", e.Name)}
	}
	return fc.Cursor, nil
}

// feedStream reads events from an open feed.
type feedStream struct {
	body io.ReadCloser
	r    *bufio.Reader
}

// OpenFeed opens the live feed from cursor. The response stays open; read
// it with next and close it when done.
func (c *Client) OpenFeed(ctx context.Context, cursor int64) (*feedStream, error) {
	req, err := c.newRequest(ctx, http.MethodGet, PathFeed+"?cursor="+strconv.FormatInt(cursor, 10), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	res, err := c.stream.Do(req)
	if err != nil {
		return nil, classifyTransport(err)
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		defer res.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		if res.StatusCode == http.StatusOK {
			return nil, &OriginError{State: StateUnreachable, Status: res.StatusCode, Detail: "the origin's feed is not an event stream (is server.origin.server the right URL?)"}
		}
		return nil, classifyStatus(res, data)
	}
	return &feedStream{body: res.Body, r: bufio.NewReaderSize(res.Body, maxFeedLine)}, nil
}

// Close ends the stream.
func (f *feedStream) Close() error { return f.body.Close() }

// events reads the stream in a goroutine of its own, so that the link can
// wait on the feed and its timers at once. The goroutine ends with the
// stream (its error comes on the second channel) or with ctx.
func (f *feedStream) events(ctx context.Context) (<-chan feedEvent, <-chan error) {
	events := make(chan feedEvent)
	readErr := make(chan error, 1)
	go func() {
		for {
			ev, err := f.next()
			if err != nil {
				readErr <- err
				return
			}
			select {
			case events <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return events, readErr
}

// next reads the next event; comment lines are skipped.
func (f *feedStream) next() (feedEvent, error) {
	var ev feedEvent
	for {
		line, err := f.r.ReadSlice('\n')
		if err != nil {
			if err == bufio.ErrBufferFull {
				return ev, &OriginError{State: StateUnreachable, Detail: "the origin's feed sent a line longer than a knot origin does"}
			}
			return ev, err
		}
		text := strings.TrimRight(string(line), "\r\n")
		if text == "" {
			if ev.Name != "" {
				return ev, nil
			}
			continue
		}
		if strings.HasPrefix(text, ":") {
			continue
		}
		field, value, _ := strings.Cut(text, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			ev.Name = value
		case "id":
			ev.ID, _ = strconv.ParseInt(value, 10, 64)
		case "data":
			ev.Data = append(ev.Data, value...)
		}
	}
}
