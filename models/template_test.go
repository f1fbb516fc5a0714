package models_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/models"
)

// namesOf is what name says of each item of list, in its order: a listing
// to compare in one line.
func namesOf[T any](list []T, name func(T) string) []string {
	names := make([]string, 0, len(list))
	for _, item := range list {
		names = append(names, name(item))
	}
	return names
}

func templateNames(list []models.Template) string {
	return strings.Join(namesOf(list, func(t models.Template) string { return t.Name + "/" + t.SourceName() }), ",")
}

func TestTemplatesAreListedByZoneStateAndSearchWithTheLeafsClusterCopies(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	for _, in := range []models.TemplateInput{
		{Name: "web", Description: "Nginx", Active: true, Body: "image: nginx"},
		{Name: "Batch", Zones: []string{"eu"}, Active: true, Body: "image: batch"},
		{Name: "old", Active: false, Body: "image: old"},
	} {
		if _, err := models.CreateTemplate(ctx, db, in, t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := models.ReplaceClusterTemplates(ctx, db, []models.ClusterTemplate{{OriginID: 9, Name: "Cluster", Zones: []string{"us"}, Active: true, Body: "image: c"}}, `"e1"`, t0); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f    models.TemplateFilter
		want string
	}{
		{models.TemplateFilter{Zone: "us"}, "web/local"},
		{models.TemplateFilter{Zone: "eu", IncludeInactive: true}, "Batch/local,old/local,web/local"},
		{models.TemplateFilter{AllZones: true, IncludeCluster: true}, "Batch/local,Cluster/cluster,web/local"},
		{models.TemplateFilter{AllZones: true, Query: " NGINX "}, "web/local"},
	} {
		list, err := models.ListTemplates(ctx, db, c.f)
		if err != nil || templateNames(list) != c.want {
			t.Errorf("ListTemplates(%+v) = %s (%v), want %s", c.f, templateNames(list), err, c.want)
		}
	}
	ct, err := models.ClusterTemplateByID(ctx, db, 9)
	if err != nil || !ct.ReadOnly() || !ct.AvailableIn("us") || ct.AvailableIn("eu") {
		t.Fatalf("the cached cluster template: %+v, %v", ct, err)
	}
	if etag, _, err := models.ClusterSyncState(ctx, db); err != nil || etag != `"e1"` {
		t.Fatalf("the cluster templates' ETag: %q, %v", etag, err)
	}
}

func TestATemplateIsReplacedWholeAndDeletedOnce(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	web, err := models.CreateTemplate(ctx, db, models.TemplateInput{Name: "web", Zones: []string{"eu"}, Active: true, Body: "image: nginx"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := models.CreateTemplate(ctx, db, models.TemplateInput{Name: "db", Body: "image: pg"}, t0); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(time.Hour)
	got, err := models.UpdateTemplate(ctx, db, web.ID, models.TemplateInput{Name: " Web ", Body: "image: caddy"}, later)
	if err != nil || got.Name != "Web" || got.Active || len(got.Zones) != 0 || got.Description != "" || !got.UpdatedAt.Equal(later) {
		t.Fatalf("the replaced template: %+v, %v; want every field replaced, false and empty included", got, err)
	}
	_, err = models.UpdateTemplate(ctx, db, web.ID, models.TemplateInput{Name: "DB", Body: "image: x"}, later)
	wantConflict(t, err, "name")
	_, err = models.UpdateTemplate(ctx, db, web.ID, models.TemplateInput{Name: "", Body: " ", Zones: []string{"no zone!"}}, later)
	wantFieldErrors(t, err, "name", "body", "zones")
	if _, err := models.UpdateTemplate(ctx, db, 999, models.TemplateInput{Name: "x", Body: "y"}, later); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("replacing a template that does not exist: %v, want ErrNotFound", err)
	}
	if err := models.DeleteTemplate(ctx, db, web.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := models.TemplateByID(ctx, db, web.ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("a deleted template is still found: %v", err)
	}
	if err := models.DeleteTemplate(ctx, db, web.ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("deleting it again: %v, want ErrNotFound", err)
	}
}

func TestTheChangeFeedRecordsEachChangeInOrderAndForgetsTheOldest(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	start, err := models.LatestChange(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	web, _ := models.CreateTemplate(ctx, db, models.TemplateInput{Name: "web", Body: "image: x"}, t0)
	uid := addUser(t, db, "ada")
	if _, err := models.UpdateUser(ctx, db, everyone, uid, setActive(false), t0); err != nil {
		t.Fatal(err)
	}
	models.DeleteTemplate(ctx, db, web.ID)
	changes, err := models.ChangesAfter(ctx, db, start, 10)
	if err != nil || len(changes) != 3 {
		t.Fatalf("changes after %d: %+v (%v), want 3", start, changes, err)
	}
	if changes[0].Kind != models.ChangeTemplates || changes[1].Kind != models.ChangeUser || changes[1].SubjectID != int64(uid) || changes[2].Kind != models.ChangeTemplates {
		t.Fatalf("changes %+v", changes)
	}
	bounds := models.NewFeedBounds(db)
	if _, latest, err := bounds.Bounds(ctx); err != nil || latest != changes[2].ID {
		t.Fatalf("the feed's newest change: %d (%v), want %d", latest, err, changes[2].ID)
	}
	if n, err := models.PruneChanges(ctx, db, 1); err != nil || n == 0 {
		t.Fatalf("pruning to one change deleted %d (%v)", n, err)
	}
	if oldest, latest, err := models.ChangeBounds(ctx, db); err != nil || oldest != latest || latest != changes[2].ID {
		t.Fatalf("after pruning the feed holds %d..%d (%v), want only %d", oldest, latest, err, changes[2].ID)
	}
}
