package models

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// Where a template comes from. Every row of the templates table is local;
// a leaf shows the origin's templates beside them as "cluster".
const (
	SourceLocal   = "local"
	SourceCluster = "cluster"
)

// Limits on a template's fields.
const (
	MaxTemplateNameLength        = 64
	MaxTemplateDescriptionLength = 1000
	// MaxTemplateBodyBytes leaves room for a generous job definition while
	// keeping one row (and every list answer) a sane size.
	MaxTemplateBodyBytes = 256 << 10
)

// Zones is a template's zone list, stored as a JSON array.
type Zones []string

// Value stores the list as JSON; nil is stored as [] (every zone).
func (z Zones) Value() (driver.Value, error) {
	if z == nil {
		return "[]", nil
	}
	b, err := json.Marshal([]string(z))
	return string(b), err
}

// Scan reads the JSON array back.
func (z *Zones) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	case nil:
		*z = Zones{}
		return nil
	default:
		return fmt.Errorf("scan zones: unexpected %T", src)
	}
	var out []string
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf("scan zones: %w", err)
	}
	if out == nil {
		out = []string{}
	}
	*z = out
	return nil
}

// Template is an environment definition offered to users.
type Template struct {
	ID          uint
	Name        string
	Description string
	Zones       Zones
	Active      bool
	Body        string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// Source is SourceLocal for this server's own templates and
	// SourceCluster for a leaf's read-only copies of the origin's.
	Source string `gorm:"-"`
}

// SourceName is where the template comes from: SourceLocal unless it is a
// leaf's copy of a cluster template.
func (t *Template) SourceName() string {
	if t.Source == "" {
		return SourceLocal
	}
	return t.Source
}

// ReadOnly reports whether the template came from the origin and so cannot
// be changed here.
func (t *Template) ReadOnly() bool { return t.Source == SourceCluster }

// AvailableIn reports whether the template is shown in zone.
func (t *Template) AvailableIn(zone string) bool {
	return ZoneAllows(t.Zones, zone)
}

// TemplateFilter chooses which templates a listing returns.
type TemplateFilter struct {
	// Zone is the server's zone; templates not allowed there are left out
	// unless AllZones is set.
	Zone     string
	AllZones bool
	// IncludeInactive keeps inactive templates (for those who manage them).
	IncludeInactive bool
	// Query keeps templates whose name or description contains it,
	// ignoring case; empty keeps all.
	Query string
	// IncludeCluster adds a leaf's cached copies of the origin's templates.
	IncludeCluster bool
}

// MaxTemplateQueryLength bounds a search so a pasted essay costs nothing.
const MaxTemplateQueryLength = 200

// ListTemplates returns the templates f selects, ordered by name.
// Zone and search filtering run in Go: the zone rule has one
// implementation (ZoneAllows), and Go's case folding handles non-ASCII
// text that SQLite's LIKE does not.
func ListTemplates(ctx context.Context, db *gorm.DB, f TemplateFilter) ([]Template, error) {
	q := db.WithContext(ctx).Order("lower(name), id")
	if !f.IncludeInactive {
		q = q.Where("active = ?", true)
	}
	var all []Template
	if err := q.Find(&all).Error; err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	for i := range all {
		all[i].Source = SourceLocal
	}
	if f.IncludeCluster {
		cluster, err := ClusterTemplates(ctx, db)
		if err != nil {
			return nil, fmt.Errorf("list cached cluster templates: %w", err)
		}
		for _, ct := range cluster {
			if f.IncludeInactive || ct.Active {
				all = append(all, ct.asTemplate())
			}
		}
		slices.SortStableFunc(all, func(a, b Template) int {
			return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
		})
	}
	needle := strings.ToLower(strings.TrimSpace(f.Query))
	if utf8.RuneCountInString(needle) > MaxTemplateQueryLength {
		needle = string([]rune(needle)[:MaxTemplateQueryLength])
	}
	out := all[:0]
	for _, t := range all {
		if !f.AllZones && !t.AvailableIn(f.Zone) {
			continue
		}
		if needle != "" && !strings.Contains(strings.ToLower(t.Name), needle) && !strings.Contains(strings.ToLower(t.Description), needle) {
			continue
		}
		out = append(out, t)
	}
	return out, nil
}

// TemplateByID returns one template.
func TemplateByID(ctx context.Context, db *gorm.DB, id uint) (*Template, error) {
	var t Template
	if err := db.WithContext(ctx).First(&t, id).Error; err != nil {
		return nil, notFound(err)
	}
	t.Source = SourceLocal
	return &t, nil
}

// TemplateInput is what it takes to create or replace a template.
type TemplateInput struct {
	Name        string
	Description string
	Zones       []string
	Active      bool
	Body        string
}

// Validate checks the fields and normalises them in place (names and
// descriptions trimmed, zones normalised). The body is kept as typed: its
// whitespace may matter to whatever reads the definition.
func (in *TemplateInput) Validate() FieldErrors {
	errs := FieldErrors{}
	if msg := validateName(&in.Name, MaxTemplateNameLength); msg != "" {
		errs["name"] = msg
	}
	in.Description = strings.TrimSpace(in.Description)
	switch {
	case !utf8.ValidString(in.Description):
		errs["description"] = "A description must be text (UTF-8)."
	case utf8.RuneCountInString(in.Description) > MaxTemplateDescriptionLength:
		errs["description"] = fmt.Sprintf("A description can be at most %d characters.", MaxTemplateDescriptionLength)
	}
	switch {
	case strings.TrimSpace(in.Body) == "":
		errs["body"] = "Enter the template definition."
	case !utf8.ValidString(in.Body):
		errs["body"] = "The definition must be text (UTF-8)."
	case len(in.Body) > MaxTemplateBodyBytes:
		errs["body"] = fmt.Sprintf("The definition can be at most %d KiB.", MaxTemplateBodyBytes>>10)
	}
	errs.checkZones(&in.Zones)
	return errs
}

// CreateTemplate validates in and stores a new template. A taken name
// (ignoring case) is a ConflictError, also when two requests race: the
// unique index decides.
func CreateTemplate(ctx context.Context, db *gorm.DB, in TemplateInput, now time.Time) (*Template, error) {
	if errs := in.Validate(); len(errs) > 0 {
		return nil, errs
	}
	t := &Template{Name: in.Name, Description: in.Description, Zones: slices.Clone(in.Zones), Active: in.Active, Body: in.Body, CreatedAt: now, UpdatedAt: now}
	if err := db.WithContext(ctx).Create(t).Error; err != nil {
		return nil, writeError(err, nameTaken("template", in.Name, "choose another name"), "create template")
	}
	return t, nil
}

// UpdateTemplate validates in and replaces template id's fields with it.
func UpdateTemplate(ctx context.Context, db *gorm.DB, id uint, in TemplateInput, now time.Time) (*Template, error) {
	if errs := in.Validate(); len(errs) > 0 {
		return nil, errs
	}
	t, err := updateByID[Template](ctx, db, id, map[string]any{
		"name": in.Name, "description": in.Description, "zones": Zones(slices.Clone(in.Zones)),
		"active": in.Active, "body": in.Body, "updated_at": now,
	})
	if err != nil {
		return nil, writeError(err, nameTaken("template", in.Name, "choose another name"), fmt.Sprintf("update template %d", id))
	}
	return t, nil
}

// DeleteTemplate removes template id.
func DeleteTemplate(ctx context.Context, db *gorm.DB, id uint) error {
	return deleteByID[Template](ctx, db, id, "template")
}
