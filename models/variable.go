package models

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/knot-dev/knot/expand"
	"github.com/knot-dev/knot/vault"
)

// MaxVariableValueBytes is the largest value a variable may hold: room for
// a certificate bundle or a config snippet, small enough for every row.
const MaxVariableValueBytes = 64 << 10

// MaskedValue stands in for a protected value wherever it is not revealed
// (lists, previews).
const MaskedValue = "********"

// Variable is a template variable as callers see it. Value is the plaintext
// only when Revealed (or when the variable is not protected); a protected
// variable read for a list carries an empty Value.
type Variable struct {
	ID         uint
	Name       string
	Value      string
	Zones      Zones
	Protected  bool
	Restricted bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// Source is SourceLocal for this server's variables and SourceCluster
	// for a leaf's read-only copies of the origin's.
	Source string
	// Revealed says Value holds a protected variable's plaintext.
	Revealed bool
	// Overrides marks a leaf's local variable that has the same name as a
	// cluster variable (the local one wins); Overridden marks that cluster
	// variable.
	Overrides  bool
	Overridden bool
}

// ReadOnly reports whether the variable came from the origin and so cannot
// be changed here.
func (v *Variable) ReadOnly() bool { return v.Source == SourceCluster }

// DisplayValue is the value as a list shows it: masked when protected and
// not revealed.
func (v *Variable) DisplayValue() string {
	if v.Protected && !v.Revealed {
		return MaskedValue
	}
	return v.Value
}

// templateVar is the template_vars row. ValueSealed never leaves this
// package.
type templateVar struct {
	ID          uint
	Name        string
	Value       string
	ValueSealed string
	Zones       Zones
	Protected   bool
	Restricted  bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (templateVar) TableName() string { return "template_vars" }

// localVarContext binds a sealed value to its row, so a ciphertext copied
// onto another row fails to open instead of revealing the wrong secret.
func localVarContext(id uint) []byte {
	return []byte("template_vars/" + strconv.FormatUint(uint64(id), 10))
}

func clusterVarContext(originID uint) []byte {
	return []byte("cluster_variables/" + strconv.FormatUint(uint64(originID), 10))
}

func (r *templateVar) public() Variable {
	return Variable{
		ID: r.ID, Name: r.Name, Value: r.Value, Zones: r.Zones, Protected: r.Protected, Restricted: r.Restricted,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), Source: SourceLocal,
	}
}

// VariableInput is what it takes to create or replace a variable.
type VariableInput struct {
	Name       string
	Value      string
	Zones      []string
	Protected  bool
	Restricted bool
}

// Validate checks the fields and normalises them in place (name trimmed,
// zones normalised). The value is kept byte for byte: its whitespace may
// matter where it is filled in.
func (in *VariableInput) Validate() FieldErrors {
	errs := FieldErrors{}
	in.Name = strings.TrimSpace(in.Name)
	switch {
	case in.Name == "":
		errs["name"] = "Enter a name."
	case !expand.NameRE.MatchString(in.Name):
		errs["name"] = "A name starts with a letter or _, then letters, digits or _ only, at most 64 characters (like DB_HOST)."
	}
	switch {
	case !utf8.ValidString(in.Value):
		errs["value"] = "A value must be text (UTF-8)."
	case len(in.Value) > MaxVariableValueBytes:
		errs["value"] = fmt.Sprintf("A value can be at most %d KiB.", MaxVariableValueBytes>>10)
	}
	errs.checkZones(&in.Zones)
	return errs
}

// store writes in's value into r: in plain text, or sealed under v for
// the row's id when protected.
func (r *templateVar) store(v *vault.Vault, in VariableInput) error {
	r.Value, r.ValueSealed = in.Value, ""
	if in.Protected {
		sealed, err := v.Seal([]byte(in.Value), localVarContext(r.ID))
		if err != nil {
			return err
		}
		r.Value, r.ValueSealed = "", sealed
	}
	return nil
}

// CreateVariable validates in and stores a new variable, sealing a
// protected value under v. A taken name is a ConflictError.
func CreateVariable(ctx context.Context, db *gorm.DB, v *vault.Vault, in VariableInput, now time.Time) (*Variable, error) {
	if errs := in.Validate(); len(errs) > 0 {
		return nil, errs
	}
	r := templateVar{Name: in.Name, Zones: slices.Clone(in.Zones), Protected: in.Protected, Restricted: in.Restricted, CreatedAt: now, UpdatedAt: now}
	if !in.Protected {
		r.Value = in.Value
	}
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// The sealed value is bound to the row's id, which exists only
		// after the insert; the plaintext is never written for a
		// protected variable, not even for a moment.
		if err := tx.Create(&r).Error; err != nil {
			return err
		}
		if !in.Protected {
			return nil
		}
		if err := r.store(v, in); err != nil {
			return err
		}
		return tx.Model(&templateVar{}).Where("id = ?", r.ID).Update("value_sealed", r.ValueSealed).Error
	})
	if err != nil {
		return nil, writeError(err, nameTaken("variable", in.Name, "choose another name or edit that one"), "create variable")
	}
	out := r.public()
	return &out, nil
}

// UpdateVariable validates in and replaces variable id's fields with it.
func UpdateVariable(ctx context.Context, db *gorm.DB, v *vault.Vault, id uint, in VariableInput, now time.Time) (*Variable, error) {
	if errs := in.Validate(); len(errs) > 0 {
		return nil, errs
	}
	r := templateVar{ID: id}
	if err := r.store(v, in); err != nil {
		return nil, fmt.Errorf("seal variable %d: %w", id, err)
	}
	row, err := updateByID[templateVar](ctx, db, id, map[string]any{
		"name": in.Name, "value": r.Value, "value_sealed": r.ValueSealed, "zones": Zones(slices.Clone(in.Zones)),
		"protected": in.Protected, "restricted": in.Restricted, "updated_at": now,
	})
	if err != nil {
		return nil, writeError(err, nameTaken("variable", in.Name, "choose another name or edit that one"), fmt.Sprintf("update variable %d", id))
	}
	if in.Protected {
		// The row's plain value, if it had one, is still in an old page.
		// The update itself is done either way; a checkpoint that a reader
		// held back happens at the next sealing or automatic checkpoint.
		EraseOldVersions(ctx, db) //nolint:errcheck // best effort, see above
	}
	out := row.public()
	return &out, nil
}

// DeleteVariable removes variable id.
func DeleteVariable(ctx context.Context, db *gorm.DB, id uint) error {
	return deleteByID[templateVar](ctx, db, id, "variable")
}

// VariableByID returns one local variable. With reveal, a protected value
// is opened with v; without, it stays empty.
func VariableByID(ctx context.Context, db *gorm.DB, v *vault.Vault, id uint, reveal bool) (*Variable, error) {
	var r templateVar
	if err := db.WithContext(ctx).First(&r, id).Error; err != nil {
		return nil, notFound(err)
	}
	out, err := r.revealed(v, reveal)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// revealed is r as callers see it, its protected value opened with v when
// reveal is set.
func (r *templateVar) revealed(v *vault.Vault, reveal bool) (Variable, error) {
	out := r.public()
	if reveal && r.Protected {
		if err := out.open(v, r.ValueSealed, localVarContext(r.ID)); err != nil {
			return out, fmt.Errorf("open protected variable %d (was server.encrypt changed?): %w", r.ID, err)
		}
	}
	return out, nil
}

// open sets the variable's value to sealed opened with v.
func (out *Variable) open(v *vault.Vault, sealed string, context []byte) error {
	plain, err := v.Open(sealed, context)
	if err != nil {
		return err
	}
	out.Value, out.Revealed = string(plain), true
	return nil
}

// ClusterVariable is a leaf's cached copy of one of the origin's variables.
// A protected value is sealed under the leaf's own key in ValueSealed.
type ClusterVariable struct {
	OriginID    uint `gorm:"primaryKey;autoIncrement:false"`
	Name        string
	Value       string
	ValueSealed string
	Zones       []string `gorm:"serializer:json"`
	Protected   bool
	UpdatedAt   *time.Time `gorm:"autoUpdateTime:false"`
}

func (cv *ClusterVariable) public() Variable {
	out := Variable{ID: cv.OriginID, Name: cv.Name, Value: cv.Value, Zones: cv.Zones, Protected: cv.Protected, Source: SourceCluster}
	if cv.UpdatedAt != nil {
		out.CreatedAt, out.UpdatedAt = cv.UpdatedAt.UTC(), cv.UpdatedAt.UTC()
	}
	return out
}

// ClusterVariableByID returns one cached cluster variable by its origin id,
// its protected value opened with v when reveal is set.
func ClusterVariableByID(ctx context.Context, db *gorm.DB, v *vault.Vault, originID uint, reveal bool) (*Variable, error) {
	var cv ClusterVariable
	if err := db.WithContext(ctx).First(&cv, originID).Error; err != nil {
		return nil, notFound(err)
	}
	out := cv.public()
	if reveal && cv.Protected {
		if err := out.open(v, cv.ValueSealed, clusterVarContext(cv.OriginID)); err != nil {
			return nil, fmt.Errorf("open protected cluster variable %d: %w", originID, err)
		}
	}
	return &out, nil
}

// VariableFilter chooses which variables a listing returns.
type VariableFilter struct {
	// Zone is the server's zone; variables not allowed there are left out
	// unless AllZones is set.
	Zone     string
	AllZones bool
	// IncludeCluster adds a leaf's cached copies of the origin's variables.
	IncludeCluster bool
	// Reveal opens every protected value (only for the leaf protocol,
	// which must send them; never for a list a person sees).
	Reveal bool
}

// ListVariables returns the variables f selects, ordered by name, local
// before cluster for the same name. On a leaf a local variable and a
// cluster variable of the same name are both listed, marked Overrides and
// Overridden.
func ListVariables(ctx context.Context, db *gorm.DB, v *vault.Vault, f VariableFilter) ([]Variable, error) {
	var rows []templateVar
	if err := db.WithContext(ctx).Order("name, id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list variables: %w", err)
	}
	var out []Variable
	local := map[string]int{}
	for i := range rows {
		r := &rows[i]
		if !f.AllZones && !ZoneAllows(r.Zones, f.Zone) {
			continue
		}
		pv, err := r.revealed(v, f.Reveal)
		if err != nil {
			return nil, err
		}
		local[pv.Name] = len(out)
		out = append(out, pv)
	}
	if f.IncludeCluster {
		var cluster []ClusterVariable
		if err := db.WithContext(ctx).Order("name, origin_id").Find(&cluster).Error; err != nil {
			return nil, fmt.Errorf("list cached cluster variables: %w", err)
		}
		for i := range cluster {
			if !f.AllZones && !ZoneAllows(cluster[i].Zones, f.Zone) {
				continue
			}
			cv := cluster[i].public()
			if j, ok := local[cv.Name]; ok {
				out[j].Overrides = true
				cv.Overridden = true
			}
			out = append(out, cv)
		}
		slices.SortStableFunc(out, func(a, b Variable) int { return strings.Compare(a.Name, b.Name) })
	}
	return out, nil
}

// Effective keeps, of each name, the variable that counts on this server:
// the local one over a cluster one.
func Effective(list []Variable) map[string]Variable {
	out := make(map[string]Variable, len(list))
	for _, v := range list {
		if v.Overridden {
			continue
		}
		out[v.Name] = v
	}
	return out
}

// Leaf sync state key for the variables' ETag, beside the templates' one.
const stateVariablesETag = "variables_etag"

// ClusterVariablesETag is the ETag of the cached variable list ("" if never fetched).
func ClusterVariablesETag(ctx context.Context, db *gorm.DB) (string, error) {
	var rows []leafState
	if err := db.WithContext(ctx).Where("key = ?", stateVariablesETag).Find(&rows).Error; err != nil {
		return "", err
	}
	if len(rows) == 0 {
		return "", nil
	}
	return rows[0].Value, nil
}

// ClusterVariableInput is one variable as the origin sent it, plaintext.
type ClusterVariableInput struct {
	OriginID  uint
	Name      string
	Value     string
	Zones     []string
	Protected bool
	UpdatedAt time.Time
}

// ReplaceClusterVariables swaps the whole cached list for a fresh one from
// the origin, with its ETag, in one transaction. Protected values are
// sealed under v (the leaf's own key) before they touch the database.
func ReplaceClusterVariables(ctx context.Context, db *gorm.DB, v *vault.Vault, list []ClusterVariableInput, etag string) error {
	rows := make([]ClusterVariable, 0, len(list))
	for _, in := range list {
		updated := in.UpdatedAt.UTC()
		zones := in.Zones
		if zones == nil {
			zones = []string{}
		}
		cv := ClusterVariable{OriginID: in.OriginID, Name: in.Name, Value: in.Value, Zones: zones, Protected: in.Protected, UpdatedAt: &updated}
		if in.Protected {
			sealed, err := v.Seal([]byte(in.Value), clusterVarContext(in.OriginID))
			if err != nil {
				return fmt.Errorf("seal cluster variable %d: %w", in.OriginID, err)
			}
			cv.Value, cv.ValueSealed = "", sealed
		}
		rows = append(rows, cv)
	}
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("1 = 1").Delete(&ClusterVariable{}).Error; err != nil {
			return err
		}
		if len(rows) > 0 {
			if err := tx.CreateInBatches(rows, 100).Error; err != nil {
				return err
			}
		}
		return setState(tx, stateVariablesETag, etag)
	})
	if err != nil {
		return err
	}
	// A variable the origin has since protected was in the old copy in
	// plain text. Best effort, as in UpdateVariable.
	EraseOldVersions(ctx, db) //nolint:errcheck // best effort
	return nil
}

// PreviewLookup is the expand.Lookup for a template preview on this
// server: the variables available in zone (on a leaf, local over cluster),
// with protected values masked. Nothing is decrypted to build it.
func PreviewLookup(ctx context.Context, db *gorm.DB, zone string, includeCluster bool) (expand.Lookup, error) {
	list, err := ListVariables(ctx, db, nil, VariableFilter{Zone: zone, IncludeCluster: includeCluster})
	if err != nil {
		return nil, err
	}
	eff := Effective(list)
	return func(name string) (string, bool) {
		v, ok := eff[name]
		if !ok {
			return "", false
		}
		return v.DisplayValue(), true
	}, nil
}

// ClusterTemplateByID returns a leaf's cached cluster template by its
// origin id.
func ClusterTemplateByID(ctx context.Context, db *gorm.DB, originID uint) (*Template, error) {
	var ct ClusterTemplate
	if err := db.WithContext(ctx).First(&ct, originID).Error; err != nil {
		return nil, notFound(err)
	}
	t := ct.asTemplate()
	return &t, nil
}
