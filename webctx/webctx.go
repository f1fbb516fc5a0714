// Package webctx carries per-request values (who is signed in, which page is
// active) in the request's context.Context, where both Gin handlers and templ
// components can read them.
package webctx

import (
	"context"

	"github.com/knot-dev/knot/models"
)

type key int

const (
	identityKey key = iota
	appKey
)

// App is what the layout needs to know about this server.
type App struct {
	Version       string
	HideAPITokens bool
	Leaf          bool
	// LeafBanner is a status message shown on every page of a leaf while
	// its origin connection is not healthy; empty when all is well.
	LeafBanner      string
	LeafBannerLevel string
	// LeafBannerPublic is LeafBanner for visitors who are not signed in:
	// what it means for them, without the origin's address, settings or
	// times, which are for the people who run the leaf.
	LeafBannerPublic string
}

// WithIdentity returns ctx carrying the signed-in identity.
func WithIdentity(ctx context.Context, id *models.Identity) context.Context {
	return context.WithValue(ctx, identityKey, id)
}

// Identity returns the signed-in identity, or nil.
func Identity(ctx context.Context) *models.Identity {
	id, _ := ctx.Value(identityKey).(*models.Identity)
	return id
}

// WithApp returns ctx carrying the server facts the layout shows.
func WithApp(ctx context.Context, a App) context.Context {
	return context.WithValue(ctx, appKey, a)
}

// AppInfo returns the server facts for the layout.
func AppInfo(ctx context.Context) App {
	a, _ := ctx.Value(appKey).(App)
	return a
}
