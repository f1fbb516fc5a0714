package models

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on a template's zone list. They keep one template from carrying an
// unbounded list while leaving room for host names (up to 253 characters).
const (
	MaxZones          = 50
	MaxZoneNameLength = 255
)

// ZoneAllows reports whether something restricted to zones is shown in
// zone. It is the one implementation of the zone rule (README: Zones); every
// listing and every API answer goes through it:
//
//   - an empty list means every zone;
//   - "!Z" where Z is zone hides it, whatever else the list says;
//   - if the list names any positive zone, it is shown only where one of
//     them equals zone;
//   - otherwise (only negations, none matching) it is shown.
//
// Names are compared exactly after trimming surrounding whitespace, so
// " eu " equals "eu"; duplicates change nothing. A leaf's zone is
// "<leaf-node>", which makes "<leaf-node>" mean "only on leaves" and
// "!<leaf-node>" mean "never on leaves" with no special case here.
func ZoneAllows(zones []string, zone string) bool {
	zone = strings.TrimSpace(zone)
	positive, matched := false, false
	for _, z := range zones {
		z = strings.TrimSpace(z)
		if name, neg := strings.CutPrefix(z, "!"); neg {
			if strings.TrimSpace(name) == zone {
				return false
			}
			continue
		}
		if z == "" {
			// Stored lists never hold empty names (NormalizeZones refuses
			// them); should one slip in, it restricts nothing.
			continue
		}
		positive = true
		if z == zone {
			matched = true
		}
	}
	return !positive || matched
}

// ParseZones reads zones typed into a form: names separated by commas or
// new lines. A blank line and a comma at the end of a line are layout, not
// names; an empty name between two commas is a mistake and is reported.
// It returns the normalised list and "" or a message for the user.
func ParseZones(text string) ([]string, string) {
	var names []string
	for line := range strings.Lines(strings.ReplaceAll(text, "\r\n", "\n")) {
		line = strings.TrimSpace(line)
		line = strings.TrimSpace(strings.TrimSuffix(line, ","))
		if line == "" {
			continue
		}
		names = append(names, strings.Split(line, ",")...)
	}
	return NormalizeZones(names)
}

// NormalizeZones validates a list of zone names (from the form or the
// API), trims each, and drops duplicates while keeping the first
// occurrence's order. It returns "" or a message naming the bad entry.
func NormalizeZones(names []string) ([]string, string) {
	out := make([]string, 0, len(names))
	for i, raw := range names {
		z, msg := normalizeZone(raw)
		if msg != "" {
			if len(names) > 1 {
				return nil, fmt.Sprintf("Zone %d: %s", i+1, msg)
			}
			return nil, msg
		}
		if slices.Contains(out, z) {
			continue
		}
		// Checked while adding, so a huge pasted list stops early.
		if len(out) == MaxZones {
			return nil, fmt.Sprintf("List at most %d zones.", MaxZones)
		}
		out = append(out, z)
	}
	return out, ""
}

func normalizeZone(raw string) (string, string) {
	z := strings.TrimSpace(raw)
	name, neg := strings.CutPrefix(z, "!")
	if neg {
		// "! eu" is read as "!eu": the space is layout.
		name = strings.TrimSpace(name)
	}
	switch {
	case z == "":
		return "", "A zone name cannot be empty; remove the extra comma."
	case !utf8.ValidString(z):
		return "", "A zone name must be text (UTF-8)."
	case strings.HasPrefix(name, "!"):
		return "", fmt.Sprintf("“%s”: use a single “!” before the zone name.", z)
	case neg && name == "":
		return "", "A “!” must be followed by the zone it excludes, like !eu-west."
	case strings.Contains(name, "!"):
		return "", fmt.Sprintf("“%s”: “!” can only come first, meaning “not in this zone”.", z)
	case strings.ContainsFunc(name, unicode.IsControl):
		return "", fmt.Sprintf("%q: a zone name cannot contain tabs, line breaks or control characters.", z)
	case strings.Contains(name, ","):
		return "", fmt.Sprintf("“%s”: a zone name cannot contain a comma; commas separate zones.", z)
	case utf8.RuneCountInString(name) > MaxZoneNameLength:
		return "", fmt.Sprintf("A zone name can be at most %d characters.", MaxZoneNameLength)
	}
	if neg {
		return "!" + name, ""
	}
	return name, ""
}

// checkZones normalises *zones in place, or puts the message for them
// beside the zones field.
func (f FieldErrors) checkZones(zones *[]string) {
	normal, msg := NormalizeZones(*zones)
	if msg != "" {
		f["zones"] = msg
		return
	}
	*zones = normal
}
