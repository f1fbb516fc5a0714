package models_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"gorm.io/gorm"

	"github.com/knot-dev/knot/models"
)

// everyone acts with every permission without being any user, so the
// rules about one's own account never apply to it.
var everyone = &models.Identity{Permissions: models.AllPermissions}

// byID is the row id of one kind, read with load, failing the test if it
// cannot be read.
func byID[T any](t *testing.T, db *gorm.DB, id uint, load func(context.Context, *gorm.DB, uint) (T, error)) T {
	t.Helper()
	v, err := load(context.Background(), db, id)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// identityOf is who uid acts as, roles and permissions loaded as for a
// request.
func identityOf(t *testing.T, db *gorm.DB, uid uint) *models.Identity {
	t.Helper()
	return byID(t, db, uid, models.LoadIdentity)
}

// addRole creates a custom role granting perms.
func addRole(t *testing.T, db *gorm.DB, name string, perms ...string) uint {
	t.Helper()
	r, err := models.CreateRole(context.Background(), db, everyone, models.RoleInput{Name: name, Permissions: perms}, t0)
	if err != nil {
		t.Fatal(err)
	}
	return r.ID
}

// wantConflict fails the test unless err is a ConflictError beside field.
func wantConflict(t *testing.T, err error, field string) {
	t.Helper()
	var conflict *models.ConflictError
	if !errors.As(err, &conflict) || conflict.Field != field || conflict.Message == "" {
		t.Fatalf("got %v (%T), want a conflict on %q", err, err, field)
	}
}

// wantForbidden fails the test unless err is a ForbiddenError beside field.
func wantForbidden(t *testing.T, err error, field string) {
	t.Helper()
	var forbidden *models.ForbiddenError
	if !errors.As(err, &forbidden) || forbidden.Field != field || forbidden.Message == "" {
		t.Fatalf("got %v (%T), want a refusal on %q", err, err, field)
	}
}

// wantFieldErrors fails the test unless err is FieldErrors naming exactly
// fields.
func wantFieldErrors(t *testing.T, err error, fields ...string) {
	t.Helper()
	var fe models.FieldErrors
	if !errors.As(err, &fe) {
		t.Fatalf("got %v (%T), want field errors on %v", err, err, fields)
	}
	var got []string
	for f, msg := range fe {
		if msg == "" {
			t.Errorf("field %q has an empty message", f)
		}
		got = append(got, f)
	}
	slices.Sort(got)
	slices.Sort(fields)
	if !slices.Equal(got, fields) {
		t.Fatalf("field errors on %v (%v), want %v", got, fe, fields)
	}
}
