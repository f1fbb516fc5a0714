// Package static embeds knot's browser assets: pinned htmx 2.0.11 (vendored
// from the htmx.org npm package, sha256 d6fdc75f…f717), one stylesheet and
// one small script, and a few icons from lucide-static (ISC, see
// icons/LICENSE). Nothing is fetched from a CDN.
package static

import "embed"

//go:embed *.css *.js *.svg icons
var Files embed.FS
