package models_test

import (
	"slices"
	"testing"

	"github.com/knot-dev/knot/models"
)

// FuzzZones: what ParseZones accepts is normalised (normalising it again
// changes nothing) and the zone rule never panics on it.
func FuzzZones(f *testing.F) {
	for _, s := range []string{"", "eu, us", "!<leaf-node>", "<leaf-node>\n!eu", " a , a ,b", "!", ",,,", "ü, 漢字", "a\x00b"} {
		f.Add(s, "eu")
	}
	f.Fuzz(func(t *testing.T, text, zone string) {
		zones, msg := models.ParseZones(text)
		if msg != "" {
			return
		}
		again, msg := models.NormalizeZones(zones)
		if msg != "" || !slices.Equal(again, zones) {
			t.Fatalf("ParseZones(%q) = %q, not normalised: %q %q", text, zones, again, msg)
		}
		models.ZoneAllows(zones, zone)
	})
}
