package models_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/knot-dev/knot/models"
)

func TestZoneAllows(t *testing.T) {
	const leaf = "<leaf-node>"
	cases := []struct {
		name  string
		zones []string
		zone  string
		want  bool
	}{
		{"empty list is every zone", nil, "eu", true},
		{"empty non-nil list is every zone", []string{}, leaf, true},

		{"Z shown in Z", []string{"eu"}, "eu", true},
		{"Z hidden elsewhere", []string{"eu"}, "us", false},
		{"Z hidden on a leaf", []string{"eu"}, leaf, false},
		{"Z is case-sensitive", []string{"EU"}, "eu", false},

		{"!Z hidden in Z", []string{"!eu"}, "eu", false},
		{"!Z shown elsewhere", []string{"!eu"}, "us", true},
		{"!Z shown on a leaf", []string{"!eu"}, leaf, true},

		{"<leaf-node> shown on a leaf", []string{leaf}, leaf, true},
		{"<leaf-node> hidden on a cluster server", []string{leaf}, "eu", false},
		{"!<leaf-node> hidden on a leaf", []string{"!" + leaf}, leaf, false},
		{"!<leaf-node> shown on a cluster server", []string{"!" + leaf}, "eu", true},

		{"mixed: positive match, other negation", []string{"eu", "!us"}, "eu", true},
		{"mixed: negation of this zone wins over a positive of it", []string{"eu", "!eu"}, "eu", false},
		{"mixed: negation first, positive later", []string{"!eu", "eu"}, "eu", false},
		{"mixed: neither matches, positive present", []string{"eu", "!us"}, "ap", false},
		{"mixed: excluded zone", []string{"eu", "!us"}, "us", false},
		{"mixed: leaf plus cluster zone, on leaf", []string{"eu", leaf}, leaf, true},
		{"mixed: cluster zone but not leaves, on leaf", []string{"eu", "!" + leaf}, leaf, false},

		{"negation-only: none matches", []string{"!eu", "!us"}, "ap", true},
		{"negation-only: one matches", []string{"!eu", "!us"}, "us", false},
		{"negation-only: many, leaf", []string{"!eu", "!us", "!" + leaf}, leaf, false},

		{"duplicates: positive", []string{"eu", "eu", "eu"}, "eu", true},
		{"duplicates: positive elsewhere", []string{"eu", "eu"}, "us", false},
		{"duplicates: negation", []string{"!eu", "!eu"}, "eu", false},
		{"duplicates: negation elsewhere", []string{"!eu", "!eu"}, "us", true},

		{"whitespace around a positive name", []string{"  eu\t"}, "eu", true},
		{"whitespace around a negation", []string{" !eu "}, "eu", false},
		{"whitespace after the bang", []string{"! eu"}, "eu", false},
		{"whitespace around the server's zone", []string{"eu"}, " eu ", true},
		{"whitespace-only entry restricts nothing", []string{"  "}, "eu", true},
		{"whitespace-only entry beside a positive", []string{" ", "us"}, "eu", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := models.ZoneAllows(tc.zones, tc.zone); got != tc.want {
				t.Fatalf("ZoneAllows(%q, %q) = %v, want %v", tc.zones, tc.zone, got, tc.want)
			}
		})
	}
}

func TestParseZones(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    []string
		wantErr string
	}{
		{"empty", "", []string{}, ""},
		{"only whitespace", " \n\t \n", []string{}, ""},
		{"one", "eu", []string{"eu"}, ""},
		{"commas", "eu, us,ap", []string{"eu", "us", "ap"}, ""},
		{"lines", "eu\nus\r\n!<leaf-node>\n", []string{"eu", "us", "!<leaf-node>"}, ""},
		{"commas and lines", "eu, us\nap", []string{"eu", "us", "ap"}, ""},
		{"comma at line end", "eu,\nus,", []string{"eu", "us"}, ""},
		{"blank lines", "eu\n\n\nus", []string{"eu", "us"}, ""},
		{"duplicates dropped, order kept", "us, eu, us, eu", []string{"us", "eu"}, ""},
		{"space after bang", "! eu", []string{"!eu"}, ""},
		{"unicode", "zürich, 東京", []string{"zürich", "東京"}, ""},
		{"spaces inside a name", "eu west", []string{"eu west"}, ""},

		{"empty between commas", "eu,,us", nil, "Zone 2: A zone name cannot be empty; remove the extra comma."},
		{"blank between commas", "eu, ,us", nil, "Zone 2: A zone name cannot be empty; remove the extra comma."},
		{"leading comma", ",eu", nil, "Zone 1: A zone name cannot be empty; remove the extra comma."},
		{"bang alone", "!", nil, "A “!” must be followed by the zone it excludes, like !eu-west."},
		{"bang alone in a list", "eu, !", nil, "Zone 2: A “!” must be followed by the zone it excludes, like !eu-west."},
		{"double bang", "!!eu", nil, "“!!eu”: use a single “!” before the zone name."},
		{"bang inside", "e!u", nil, "“e!u”: “!” can only come first, meaning “not in this zone”."},
		{"bang at the end", "eu!", nil, "“eu!”: “!” can only come first, meaning “not in this zone”."},
		{"control character", "e\x00u", nil, `"e\x00u": a zone name cannot contain tabs, line breaks or control characters.`},
		{"tab inside", "e\tu", nil, `"e\tu": a zone name cannot contain tabs, line breaks or control characters.`},
		{"too long", strings.Repeat("z", models.MaxZoneNameLength+1), nil, "A zone name can be at most 255 characters."},
		{"too many", manyZones(models.MaxZones + 1), nil, "List at most 50 zones."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, msg := models.ParseZones(tc.in)
			if msg != tc.wantErr {
				t.Fatalf("ParseZones(%q) message = %q, want %q", tc.in, msg, tc.wantErr)
			}
			if tc.wantErr == "" && !slices.Equal(got, tc.want) {
				t.Fatalf("ParseZones(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	// Exactly the limit is fine, and so is the longest allowed name.
	if got, msg := models.ParseZones(manyZones(models.MaxZones)); msg != "" || len(got) != models.MaxZones {
		t.Fatalf("%d zones: %d parsed, message %q", models.MaxZones, len(got), msg)
	}
	if _, msg := models.ParseZones("!" + strings.Repeat("é", models.MaxZoneNameLength)); msg != "" {
		t.Fatalf("longest name refused: %q", msg)
	}
}

func TestNormalizeZonesFromAPI(t *testing.T) {
	// The API sends a list; its entries may not smuggle in separators.
	if _, msg := models.NormalizeZones([]string{"eu,us"}); msg != "“eu,us”: a zone name cannot contain a comma; commas separate zones." {
		t.Fatalf("comma inside an API entry: %q", msg)
	}
	if _, msg := models.NormalizeZones([]string{"eu\nus"}); !strings.Contains(msg, "line breaks") {
		t.Fatalf("newline inside an API entry: %q", msg)
	}
	if _, msg := models.NormalizeZones([]string{"eu", ""}); msg != "Zone 2: A zone name cannot be empty; remove the extra comma." {
		t.Fatalf("empty API entry: %q", msg)
	}
	if _, msg := models.NormalizeZones([]string{"\xff"}); msg != "A zone name must be text (UTF-8)." {
		t.Fatalf("invalid UTF-8: %q", msg)
	}
	got, msg := models.NormalizeZones([]string{" eu ", "eu", "! us"})
	if msg != "" || !slices.Equal(got, []string{"eu", "!us"}) {
		t.Fatalf("NormalizeZones = %q %q", got, msg)
	}
	// Many duplicates of one name are not "too many zones".
	dups := make([]string, 10*models.MaxZones)
	for i := range dups {
		dups[i] = "eu"
	}
	if got, msg := models.NormalizeZones(dups); msg != "" || len(got) != 1 {
		t.Fatalf("duplicates: %q %q", got, msg)
	}
}

func manyZones(n int) string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("zone-%d", i)
	}
	return strings.Join(names, ",")
}
