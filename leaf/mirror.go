package leaf

import (
	"context"
	"time"

	"github.com/knot-dev/knot/models"
)

// mirror is a list of the origin's that the leaf keeps its last good copy
// of. Syncing one is always the same: fetch against the copy's ETag, then
// keep the copy (noting that it is current) or replace it whole. A failure
// leaves the copy as it was.
type mirror[T any] struct {
	// noun names an entry in messages ("template").
	noun  string
	etag  func(context.Context, *Service) (string, error)
	fetch func(*Client, context.Context, string) (list []T, etag string, notModified bool, err error)
	// current notes that the copy is still the origin's; nil when nothing
	// records that.
	current func(ctx context.Context, s *Service, now time.Time) error
	replace func(ctx context.Context, s *Service, list []T, etag string, now time.Time) error
}

func (m mirror[T]) sync(ctx context.Context, s *Service) error {
	etag, err := m.etag(ctx, s)
	if err != nil {
		return localError("read the "+m.noun+" cache", err)
	}
	list, newETag, notModified, err := m.fetch(s.cl(), ctx, etag)
	if err != nil {
		return err
	}
	now := s.clock.Now().UTC()
	switch {
	case notModified && m.current == nil:
		return nil
	case notModified:
		err = m.current(ctx, s, now)
	default:
		err = m.replace(ctx, s, list, newETag, now)
	}
	if err != nil {
		return localError("store the origin's "+m.noun+"s", err)
	}
	return nil
}

// mirrors are the lists a leaf keeps, in the order a sync fetches them,
// each with the kind of change in the origin's feed that touches it.
var mirrors = []struct {
	kind string
	sync func(context.Context, *Service) error
}{
	{models.ChangeTemplates, templateMirror.sync},
	{models.ChangeVariables, variableMirror.sync},
}

// The templates' copy also records when the origin last confirmed it: the
// status page's "last sync".
var templateMirror = mirror[Template]{
	noun: "template",
	etag: func(ctx context.Context, s *Service) (string, error) {
		etag, _, err := models.ClusterSyncState(ctx, s.db)
		return etag, err
	},
	fetch: (*Client).Templates,
	current: func(ctx context.Context, s *Service, now time.Time) error {
		return models.MarkClusterTemplatesFresh(ctx, s.db, now)
	},
	replace: func(ctx context.Context, s *Service, list []Template, etag string, now time.Time) error {
		return models.ReplaceClusterTemplates(ctx, s.db, toCache(list), etag, now)
	},
}

// The variables' protected values are re-sealed under this leaf's own key
// as they are stored.
var variableMirror = mirror[Variable]{
	noun: "variable",
	etag: func(ctx context.Context, s *Service) (string, error) {
		return models.ClusterVariablesETag(ctx, s.db)
	},
	fetch: (*Client).Variables,
	replace: func(ctx context.Context, s *Service, list []Variable, etag string, _ time.Time) error {
		in := make([]models.ClusterVariableInput, 0, len(list))
		for _, v := range list {
			in = append(in, models.ClusterVariableInput{OriginID: v.ID, Name: v.Name, Value: v.Value, Zones: v.Zones, Protected: v.Protected, UpdatedAt: v.UpdatedAt})
		}
		return models.ReplaceClusterVariables(ctx, s.db, s.vault, in, etag)
	},
}

func toCache(list []Template) []models.ClusterTemplate {
	out := make([]models.ClusterTemplate, 0, len(list))
	for _, t := range list {
		updated := t.UpdatedAt.UTC()
		zones := t.Zones
		if zones == nil {
			zones = []string{}
		}
		out = append(out, models.ClusterTemplate{
			OriginID: t.ID, Name: t.Name, Description: t.Description, Zones: zones,
			Active: t.Active, Body: t.Body, UpdatedAt: &updated,
		})
	}
	return out
}
