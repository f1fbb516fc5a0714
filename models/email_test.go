package models_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/knot-dev/knot/models"
)

func TestEmailsAreParsedAsOneBareAddressAndNormalised(t *testing.T) {
	for raw, want := range map[string]string{
		"ada@example.com":             "ada@example.com",
		"  Ada.Lovelace@Example.COM ": "ada.lovelace@example.com",
		"o'brien+knot@example.org\n":  "o'brien+knot@example.org",
		"ZOË@Example.com":             "zoË@example.com", // only ASCII letters are folded
		"a@b.c":                       "a@b.c",
	} {
		got, msg := models.NormalizeEmail(raw)
		if msg != "" || got != want {
			t.Errorf("NormalizeEmail(%q) = %q, %q; want %q", raw, got, msg, want)
		}
	}
	for raw, wantMsg := range map[string]string{
		"":                                  "Enter an email address.",
		"   ":                               "Enter an email address.",
		"x\x00ZZZ@corp.example":             "control",
		"ada\r\nBcc: x@y.z":                 "control",
		"a\u200b@example.com":               "control",
		"\xffada@example.com":               "UTF-8",
		"Ada <ada@example.com>":             "just the address",
		"<ada@example.com>":                 "just the address",
		"ada@example.com (Ada)":             "just the address",
		`"ada l"@example.com`:               "just the address",
		"ada@example.com, b@x.org":          "just the address",
		"not-an-email":                      "Enter a valid email address",
		"a@b@c":                             "Enter a valid email address",
		"a..b@example.com":                  "Enter a valid email address",
		strings.Repeat("a", 250) + "@x.org": "at most 254",
	} {
		got, msg := models.NormalizeEmail(raw)
		if !strings.Contains(msg, wantMsg) {
			t.Errorf("NormalizeEmail(%q) = %q, %q; want a message containing %q", raw, got, msg, wantMsg)
		}
	}
}

// Every way into the users table stores the normalised address, and finding
// a user by email asks for exactly that address.
func TestUsersAreStoredAndFoundByTheirNormalisedEmail(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	n := models.NewUser{Username: "alice", Email: "  Alice@Example.COM ", Password: "longenough", Confirm: "longenough"}
	admin, err := models.CreateFirstAdmin(ctx, db, n, t0)
	if err != nil {
		t.Fatal(err)
	}
	if admin.Email != "alice@example.com" {
		t.Fatalf("the first admin's email = %q, want it normalised", admin.Email)
	}
	bad := models.NewUser{Username: "mallory", Email: "m\x00@example.com", Password: "longenough", Confirm: "longenough"}
	var fe models.FieldErrors
	if _, err := models.CreateFirstAdmin(ctx, db, bad, t0); !errors.As(err, &fe) || fe["email"] == "" {
		t.Fatalf("CreateFirstAdmin with a NUL in the email: %v, want a field error for email", err)
	}
	ident, err := models.LoadIdentity(ctx, db, admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := models.CreateUser(ctx, db, ident, models.NewUser{Username: "bob", Email: "Bob@Example.com", Password: "longenough", Confirm: "longenough", Active: true}, t0)
	if err != nil || bob.Email != "bob@example.com" {
		t.Fatalf("CreateUser: %+v, %v; want the email normalised", bob, err)
	}
	email := " BOB@example.org"
	bob, err = models.UpdateUser(ctx, db, ident, bob.ID, models.UserChanges{Email: &email}, t0)
	if err != nil || bob.Email != "bob@example.org" {
		t.Fatalf("UpdateUser: %+v, %v; want the email normalised", bob, err)
	}
	for _, typed := range []string{"bob@example.org", " Bob@Example.ORG\t"} {
		if u, err := models.UserByEmail(ctx, db, typed); err != nil || u.ID != bob.ID {
			t.Errorf("UserByEmail(%q) = %v, %v; want bob", typed, u, err)
		}
	}
	for _, typed := range []string{"bob@example.org\x00", "bob\x00@example.org", "bob@example.or", "Bob <bob@example.org>"} {
		if u, err := models.UserByEmail(ctx, db, typed); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("UserByEmail(%q) = %v, %v; want ErrNotFound", typed, u, err)
		}
	}
}

// A leaf stores the origin's account under its normalised email, so that
// offline sign-in and the leaf's own lookups find it as typed.
func TestALeafStoresAnOriginUsersEmailNormalised(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	u, err := models.UpsertOriginUser(ctx, db, models.OriginUser{ID: 7, Username: "ada", Email: " Ada@Example.COM"}, "", t0)
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "ada@example.com" {
		t.Fatalf("the leaf's copy has email %q, want ada@example.com", u.Email)
	}
}

// Rows the upgrade could not normalise (or that hold what is no address)
// are found, so that the server can name them at start-up.
func TestUsersWhoseStoredEmailCannotBeSignedInWithAreFound(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	for name, email := range map[string]string{"ann": "ann@example.com", "anne": " Ann@Example.com", "bob": "Bob <bob@example.com>"} {
		u := models.User{Username: name, Email: email, Active: true, CreatedAt: t0, UpdatedAt: t0}
		if err := db.Create(&u).Error; err != nil {
			t.Fatal(err)
		}
	}
	got, err := models.UsersWithUnusableEmail(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	names := namesOf(got, func(u models.UserRef) string { return u.Username })
	slices.Sort(names) // the rows were made in map order
	if strings.Join(names, ",") != "anne,bob" {
		t.Fatalf("users with an unusable email = %v, want anne and bob", names)
	}
}
