package models_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/knot-dev/knot/knottest/kit"
	"github.com/knot-dev/knot/models"
)

func TestVariableValidationMessages(t *testing.T) {
	long := strings.Repeat("a", 64)
	cases := []struct {
		name  string
		in    models.VariableInput
		field string
		msg   string // "" means the field is fine
	}{
		{"empty name", models.VariableInput{Name: "  "}, "name", "Enter a name."},
		{"leading digit", models.VariableInput{Name: "1ABC"}, "name", "A name starts with a letter or _"},
		{"dash", models.VariableInput{Name: "DB-HOST"}, "name", "A name starts with a letter or _"},
		{"dot", models.VariableInput{Name: "db.host"}, "name", "A name starts with a letter or _"},
		{"inner space", models.VariableInput{Name: "DB HOST"}, "name", "A name starts with a letter or _"},
		{"non-ASCII", models.VariableInput{Name: "HÔTE"}, "name", "A name starts with a letter or _"},
		{"65 characters", models.VariableInput{Name: "A" + long}, "name", "at most 64 characters"},
		{"64 characters", models.VariableInput{Name: long}, "name", ""},
		{"underscore first, trimmed", models.VariableInput{Name: " _db_host2 "}, "name", ""},
		{"value not UTF-8", models.VariableInput{Name: "A", Value: "\xff\xfe"}, "value", "A value must be text (UTF-8)."},
		{"value over 64 KiB", models.VariableInput{Name: "A", Value: strings.Repeat("x", models.MaxVariableValueBytes+1)}, "value", "A value can be at most 64 KiB."},
		{"value exactly 64 KiB", models.VariableInput{Name: "A", Value: strings.Repeat("x", models.MaxVariableValueBytes)}, "value", ""},
		{"empty value", models.VariableInput{Name: "A"}, "value", ""},
		{"empty zone", models.VariableInput{Name: "A", Zones: []string{"eu", " "}}, "zones", "Zone 2: A zone name cannot be empty; remove the extra comma."},
		{"double bang", models.VariableInput{Name: "A", Zones: []string{"!!eu"}}, "zones", "use a single “!” before the zone name"},
		{"bare bang", models.VariableInput{Name: "A", Zones: []string{"!"}}, "zones", "A “!” must be followed by the zone it excludes"},
		{"bang inside", models.VariableInput{Name: "A", Zones: []string{"e!u"}}, "zones", "“!” can only come first"},
		{"control character", models.VariableInput{Name: "A", Zones: []string{"e\tu"}}, "zones", "cannot contain tabs"},
		{"comma", models.VariableInput{Name: "A", Zones: []string{"e,u"}}, "zones", "cannot contain a comma"},
		{"zone too long", models.VariableInput{Name: "A", Zones: []string{strings.Repeat("z", models.MaxZoneNameLength+1)}}, "zones", "at most 255 characters"},
		{"zone not UTF-8", models.VariableInput{Name: "A", Zones: []string{"\xff"}}, "zones", "A zone name must be text (UTF-8)."},
		{"too many zones", models.VariableInput{Name: "A", Zones: zoneList(models.MaxZones + 1)}, "zones", "List at most 50 zones."},
		{"good zones", models.VariableInput{Name: "A", Zones: []string{" eu ", "! <leaf-node>", "eu"}}, "zones", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			errs := in.Validate()
			got := errs[tc.field]
			if tc.msg == "" {
				if got != "" {
					t.Fatalf("%s: unexpected message %q", tc.field, got)
				}
				return
			}
			if !strings.Contains(got, tc.msg) {
				t.Fatalf("%s message = %q, want it to contain %q", tc.field, got, tc.msg)
			}
		})
	}
	in := models.VariableInput{Name: " _db_host2 ", Zones: []string{" eu ", "! <leaf-node>", "eu"}}
	if errs := in.Validate(); len(errs) != 0 || in.Name != "_db_host2" || !slices.Equal(in.Zones, []string{"eu", "!<leaf-node>"}) {
		t.Fatalf("normalised input = %+v, errors %v", in, errs)
	}
}

func zoneList(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "zone-" + strings.Repeat("z", i+1)
	}
	return out
}

func TestVariableNamesAreUniqueAndCaseSensitive(t *testing.T) {
	ctx := context.Background()
	db, v := openDB(t), kit.Vault(t)
	if _, err := models.CreateVariable(ctx, db, v, models.VariableInput{Name: "HOST", Value: "a"}, t0); err != nil {
		t.Fatal(err)
	}
	_, err := models.CreateVariable(ctx, db, v, models.VariableInput{Name: "HOST", Value: "b"}, t0)
	var conflict *models.ConflictError
	if !errors.As(err, &conflict) || conflict.Field != "name" || !strings.Contains(conflict.Message, "already exists") {
		t.Fatalf("duplicate name: %v", err)
	}
	if _, err := models.CreateVariable(ctx, db, v, models.VariableInput{Name: "host", Value: "c"}, t0); err != nil {
		t.Fatalf("a name differing only in case is another variable: %v", err)
	}
}

func TestProtectedVariableRoundTripAndBinding(t *testing.T) {
	ctx := context.Background()
	db, v := openDB(t), kit.Vault(t)
	a, err := models.CreateVariable(ctx, db, v, models.VariableInput{Name: "A", Value: "secret-a", Protected: true}, t0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := models.CreateVariable(ctx, db, v, models.VariableInput{Name: "B", Value: "secret-b", Protected: true}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if a.Value != "" || a.DisplayValue() != models.MaskedValue {
		t.Fatalf("a created protected variable carries its value: %+v", a)
	}
	got, err := models.VariableByID(ctx, db, v, a.ID, true)
	if err != nil || got.Value != "secret-a" || !got.Revealed {
		t.Fatalf("reveal = %+v, %v", got, err)
	}
	list, err := models.ListVariables(ctx, db, v, models.VariableFilter{AllZones: true})
	if err != nil || len(list) != 2 || list[0].Value != "" || list[0].DisplayValue() != models.MaskedValue {
		t.Fatalf("list = %+v, %v", list, err)
	}
	// A sealed value moved onto another row does not open there.
	var sealedB string
	db.Raw("SELECT value_sealed FROM template_vars WHERE id = ?", b.ID).Scan(&sealedB)
	db.Exec("UPDATE template_vars SET value_sealed = ? WHERE id = ?", sealedB, a.ID)
	if _, err := models.VariableByID(ctx, db, v, a.ID, true); err == nil {
		t.Fatal("a sealed value copied from another row opened")
	}
	// Unprotecting stores the value in plain text and drops the sealed copy.
	upd, err := models.UpdateVariable(ctx, db, v, b.ID, models.VariableInput{Name: "B", Value: "now-plain"}, t0)
	if err != nil || upd.Value != "now-plain" || upd.Protected {
		t.Fatalf("update = %+v, %v", upd, err)
	}
	var sealed string
	db.Raw("SELECT value_sealed FROM template_vars WHERE id = ?", b.ID).Scan(&sealed)
	if sealed != "" {
		t.Fatal("an unprotected variable kept its sealed value")
	}
}
