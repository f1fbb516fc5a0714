package handlers

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/knot-dev/knot/models"
)

// templateListCache keeps the JSON of template lists, per filter, as of a
// change-feed id. Every change to a template is a row of the change feed
// (written by a trigger in the changing transaction), so an entry whose id
// is still the feed's newest is exactly what the database would give; any
// newer change, whatever it touched, makes the next request list afresh.
// Searches are not kept (there are too many), nor is anything on a leaf,
// whose cluster templates change without the feed knowing.
type templateListCache struct {
	bounds *models.FeedBounds
	mu     sync.Mutex
	lists  map[models.TemplateFilter]cachedList
}

type cachedList struct {
	cursor int64
	body   []byte
}

func newTemplateListCache(b *models.FeedBounds) *templateListCache {
	return &templateListCache{bounds: b, lists: map[models.TemplateFilter]cachedList{}}
}

// get returns the JSON for f, from the cache or built by list.
func (tc *templateListCache) get(ctx context.Context, f models.TemplateFilter, list func() (any, error)) ([]byte, error) {
	cacheable := tc != nil && f.Query == "" && !f.IncludeCluster
	var cursor int64
	if cacheable {
		// Without the request's cancellation, as in identify: watching
		// it would cost database/sql and the SQLite driver a goroutine
		// each, more than this one-row query.
		_, latest, err := tc.bounds.Bounds(context.WithoutCancel(ctx))
		if err != nil {
			return nil, err
		}
		cursor = latest
		tc.mu.Lock()
		e, ok := tc.lists[f]
		tc.mu.Unlock()
		if ok && e.cursor == cursor {
			return e.body, nil
		}
	}
	v, err := list()
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if cacheable {
		tc.mu.Lock()
		tc.lists[f] = cachedList{cursor: cursor, body: body}
		tc.mu.Unlock()
	}
	return body, nil
}
