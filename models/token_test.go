package models_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/knottest/kit"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/vault"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// openDB opens a database of the test's own: SQLite, or PostgreSQL with
// KNOT_TEST_DB=postgres.
func openDB(t *testing.T) *gorm.DB {
	t.Helper()
	return knottest.OpenDB(t)
}

func addUser(t testing.TB, db *gorm.DB, name string) uint {
	t.Helper()
	u := models.User{Username: name, Email: name + "@example.com", Active: true, CreatedAt: t0, UpdatedAt: t0}
	if err := db.Create(&u).Error; err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// addUserWithRoles adds an active user who holds roles.
func addUserWithRoles(t testing.TB, db *gorm.DB, name string, roles ...uint) uint {
	t.Helper()
	uid := addUser(t, db, name)
	for _, r := range roles {
		if err := db.Exec(`INSERT INTO user_roles (user_id, role_id) VALUES (?, ?)`, uid, r).Error; err != nil {
			t.Fatal(err)
		}
	}
	return uid
}

func mustCreate(t *testing.T, db *gorm.DB, v *vault.Vault, uid uint, name string, now time.Time) (*models.Token, string) {
	t.Helper()
	tok, plain, err := models.CreateToken(context.Background(), db, v, uid, name, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	return tok, plain
}

// aliceToken is a database with one user, alice, who holds one token.
type aliceToken struct {
	db    *gorm.DB
	v     *vault.Vault
	uid   uint
	tok   *models.Token
	plain string
}

func newAliceToken(t *testing.T, name string) aliceToken {
	t.Helper()
	a := aliceToken{db: openDB(t), v: kit.Vault(t)}
	a.uid = addUser(t, a.db, "alice")
	a.tok, a.plain = mustCreate(t, a.db, a.v, a.uid, name, t0)
	return a
}

var tokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{43}=$`)

func TestGeneratedTokensAre32RandomBytesInURLSafeBase64(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tok, err := models.GenerateToken()
		if err != nil {
			t.Fatal(err)
		}
		if len(tok) != 44 || !tokenRE.MatchString(tok) {
			t.Fatalf("token %q is not 44 characters of URL-safe base64 with padding", tok)
		}
		raw, err := base64.URLEncoding.DecodeString(tok)
		if err != nil || len(raw) != 32 {
			t.Fatalf("token %q decodes to %d bytes (%v), want 32", tok, len(raw), err)
		}
		if !models.WellFormedToken(tok) {
			t.Fatalf("WellFormedToken(%q) = false", tok)
		}
		if seen[tok] {
			t.Fatalf("token %q generated twice", tok)
		}
		seen[tok] = true
	}
	// The README's example token is well formed; near misses are not.
	if !models.WellFormedToken("dp2IlH_wQWIA_ad_UApHjAGYLZMcvn4vsH383N-AB2I=") {
		t.Fatal("the README's example token is not well formed")
	}
	for _, bad := range []string{"", "short", "dp2IlH_wQWIA_ad_UApHjAGYLZMcvn4vsH383N-AB2I", "dp2IlH/wQWIA+ad_UApHjAGYLZMcvn4vsH383N-AB2I=", "dp2IlH_wQWIA_ad_UApHjAGYLZMcvn4vsH383N-AB2I==", "dp2IlH_wQWIA_ad_UApHjAGYLZMcvn4vsH383N-AB2!"} {
		if models.WellFormedToken(bad) {
			t.Errorf("WellFormedToken(%q) = true", bad)
		}
	}
}

func TestCreateTokenStoresOnlyHashAndCiphertext(t *testing.T) {
	a := newAliceToken(t, "  Leaf Test  ")
	db, v, uid, tok, plain := a.db, a.v, a.uid, a.tok, a.plain
	if tok.Name != "Leaf Test" || tok.Prefix != plain[:8] || !tok.CreatedAt.Equal(t0) || tok.LastUsedAt != nil {
		t.Fatalf("created token = %+v", tok)
	}
	var row struct {
		Name, Prefix, TokenHash, TokenCipher string
	}
	if err := db.Raw(`SELECT name, prefix, token_hash, token_cipher FROM api_tokens WHERE id = ?`, tok.ID).Scan(&row).Error; err != nil {
		t.Fatal(err)
	}
	if row.TokenHash != models.HashToken(plain) || len(row.TokenHash) != 64 {
		t.Fatalf("token_hash = %q, want the SHA-256 hex of the token", row.TokenHash)
	}
	for col, val := range map[string]string{"name": row.Name, "prefix": row.Prefix, "token_hash": row.TokenHash, "token_cipher": row.TokenCipher} {
		if strings.Contains(val, plain) {
			t.Fatalf("column %s holds the plaintext token", col)
		}
	}
	if _, err := v.Open(row.TokenCipher, []byte("knot api token "+row.TokenHash)); err != nil {
		t.Fatalf("token_cipher does not open under the key: %v", err)
	}
	// And the ciphertext is useless under another key.
	got, err := models.RevealToken(context.Background(), db, kit.Vault(t), uid, tok.ID)
	if err != nil || got.Plaintext != "" {
		t.Fatalf("revealed under a different key: %q, %v", got.Plaintext, err)
	}
}

func TestTokenNameRules(t *testing.T) {
	cases := []struct {
		in, name string
		ok       bool
	}{
		{"Leaf Test", "Leaf Test", true},
		{"  padded\t", "padded", true},
		{"", "", false},
		{" \t\n ", "", false},
		{strings.Repeat("a", 255), strings.Repeat("a", 255), true},
		{strings.Repeat("a", 256), strings.Repeat("a", 256), false},
		// Characters, not bytes: 255 three-byte runes are fine.
		{strings.Repeat("ü", 255), strings.Repeat("ü", 255), true},
		{strings.Repeat("🔑", 256), strings.Repeat("🔑", 256), false},
		{"Schlüssel 🔑", "Schlüssel 🔑", true},
		{"two\nlines", "two\nlines", false},
	}
	for _, c := range cases {
		name, msg := models.ValidateTokenName(c.in)
		if name != c.name || (msg == "") != c.ok {
			t.Errorf("ValidateTokenName(%.20q) = %.20q, %q; want %.20q ok=%v", c.in, name, msg, c.name, c.ok)
		}
	}
	db, v := openDB(t), kit.Vault(t)
	uid := addUser(t, db, "alice")
	_, _, err := models.CreateToken(context.Background(), db, v, uid, "   ", t0, 0)
	var fe models.FieldErrors
	if !errors.As(err, &fe) || fe["name"] == "" {
		t.Fatalf("CreateToken with a blank name: %v, want a FieldErrors for name", err)
	}
}

func TestTokensAreScopedToTheirOwner(t *testing.T) {
	ctx := context.Background()
	db, v := openDB(t), kit.Vault(t)
	alice, bob := addUser(t, db, "alice"), addUser(t, db, "bob")
	a, _ := mustCreate(t, db, v, alice, "alice's", t0)
	b, bobPlain := mustCreate(t, db, v, bob, "bob's", t0)

	list, err := models.ListTokens(ctx, db, alice)
	if err != nil || len(list) != 1 || list[0].ID != a.ID {
		t.Fatalf("alice's list = %+v, %v", list, err)
	}
	if _, err := models.TokenByOwner(ctx, db, alice, b.ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("TokenByOwner(bob's) as alice = %v, want ErrNotFound", err)
	}
	if _, err := models.RevealToken(ctx, db, v, alice, b.ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("RevealToken(bob's) as alice = %v, want ErrNotFound", err)
	}
	if _, err := models.DeleteToken(ctx, db, alice, b.ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("DeleteToken(bob's) as alice = %v, want ErrNotFound", err)
	}
	if got, err := models.TokenByPlaintext(ctx, db, bobPlain); err != nil || got.ID != b.ID {
		t.Fatalf("bob's token after alice's delete attempt: %v", err)
	}
	if _, err := models.DeleteToken(ctx, db, bob, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := models.TokenByPlaintext(ctx, db, bobPlain); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("deleted token still found: %v", err)
	}
}

func TestRevealTokenDecryptsTheOwnersToken(t *testing.T) {
	ctx := context.Background()
	a := newAliceToken(t, "first")
	got, err := models.RevealToken(ctx, a.db, a.v, a.uid, a.tok.ID)
	if err != nil || got.Plaintext != a.plain || got.Name != "first" {
		t.Fatalf("RevealToken = %+v, %v; want the token created", got, err)
	}
}

func TestTokenPagesAreNewestFirstAndCountEveryMatch(t *testing.T) {
	ctx := context.Background()
	db, v := openDB(t), kit.Vault(t)
	alice, bob := addUser(t, db, "alice"), addUser(t, db, "bob")
	var ids []uint // oldest first
	for i := range 7 {
		tok, _ := mustCreate(t, db, v, alice, fmt.Sprintf("token %d", i), t0.Add(time.Duration(i)*time.Minute))
		ids = append(ids, tok.ID)
	}
	// Same created_at: the higher id is the newer.
	tie, _ := mustCreate(t, db, v, alice, "tie", t0.Add(6*time.Minute))
	ids = append(ids, tie.ID)
	mustCreate(t, db, v, bob, "bob's", t0.Add(time.Hour))

	pageIDs := func(page int) []uint {
		t.Helper()
		list, total, err := models.ListTokenPage(ctx, db, alice, "", page, 3)
		if err != nil || total != 8 {
			t.Fatalf("page %d: total %d, %v; want 8 (bob's not counted)", page, total, err)
		}
		var out []uint
		for _, tok := range list {
			out = append(out, tok.ID)
		}
		return out
	}
	want := [][]uint{{ids[7], ids[6], ids[5]}, {ids[4], ids[3], ids[2]}, {ids[1], ids[0]}}
	for i, w := range want {
		if got := pageIDs(i + 1); !slices.Equal(got, w) {
			t.Errorf("page %d = %v, want %v", i+1, got, w)
		}
	}
	// Out of range: below the first is the first, past the end the last.
	if got := pageIDs(0); !slices.Equal(got, want[0]) {
		t.Errorf("page 0 = %v, want page 1", got)
	}
	if got := pageIDs(99); !slices.Equal(got, want[2]) {
		t.Errorf("page 99 = %v, want the last page", got)
	}
	// An empty list has an empty first page.
	carol := addUser(t, db, "carol")
	if list, total, err := models.ListTokenPage(ctx, db, carol, "", 2, 50); err != nil || len(list) != 0 || total != 0 {
		t.Fatalf("carol's tokens = %v of %d, %v", list, total, err)
	}
	for _, c := range []struct {
		total   int64
		perPage int
		last    int
	}{{0, 50, 1}, {1, 50, 1}, {50, 50, 1}, {51, 50, 2}, {1000, 50, 20}} {
		if got := models.LastPage(c.total, c.perPage); got != c.last {
			t.Errorf("LastPage(%d, %d) = %d, want %d", c.total, c.perPage, got, c.last)
		}
	}
}

func TestTokenSearchMatchesPartOfTheNameInAnyCase(t *testing.T) {
	ctx := context.Background()
	db, v := openDB(t), kit.Vault(t)
	alice, bob := addUser(t, db, "alice"), addUser(t, db, "bob")
	for _, name := range []string{"Leaf Test", "CI leaf", "deploy", "50% off", "a_b", `back\slash`} {
		mustCreate(t, db, v, alice, name, t0)
	}
	mustCreate(t, db, v, bob, "bob's leaf", t0)
	cases := []struct {
		q    string
		want []string
	}{
		{"leaf", []string{"CI leaf", "Leaf Test"}},
		{"  LEAF ", []string{"CI leaf", "Leaf Test"}},
		{"eaf t", []string{"Leaf Test"}},
		// LIKE's wildcards and escape character are plain text in a search.
		{"%", []string{"50% off"}},
		{"_", []string{"a_b"}},
		{`\`, []string{`back\slash`}},
		{"nothing", nil},
		{"", []string{"CI leaf", "Leaf Test", "deploy", "50% off", "a_b", `back\slash`}},
	}
	for _, c := range cases {
		list, total, err := models.ListTokenPage(ctx, db, alice, c.q, 1, 50)
		if err != nil {
			t.Fatalf("search %q: %v", c.q, err)
		}
		var got []string
		for _, tok := range list {
			got = append(got, tok.Name)
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(c.want))
		if !slices.Equal(got, want) || total != int64(len(want)) {
			t.Errorf("search %q = %q (total %d), want %q", c.q, got, total, want)
		}
	}
}

func TestCiphertextMovedToAnotherRowDoesNotReveal(t *testing.T) {
	ctx := context.Background()
	db, v := openDB(t), kit.Vault(t)
	uid := addUser(t, db, "alice")
	a, _ := mustCreate(t, db, v, uid, "a", t0)
	b, _ := mustCreate(t, db, v, uid, "b", t0)
	if err := db.Exec(`UPDATE api_tokens SET token_cipher = (SELECT token_cipher FROM api_tokens WHERE id = ?) WHERE id = ?`, a.ID, b.ID).Error; err != nil {
		t.Fatal(err)
	}
	got, err := models.RevealToken(ctx, db, v, uid, b.ID)
	if err != nil || got.Plaintext != "" {
		t.Fatalf("row b revealed %q (err %v) from row a's ciphertext", got.Plaintext, err)
	}
}

func TestUnknownAndMalformedTokensAreNotFound(t *testing.T) {
	db := openDB(t)
	other, _ := models.GenerateToken()
	for _, s := range []string{"", "garbage", other, strings.Repeat("=", 44)} {
		if _, err := models.TokenByPlaintext(context.Background(), db, s); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("TokenByPlaintext(%q) = %v, want ErrNotFound", s, err)
		}
	}
}

func TestExpiryIs14DaysAfterLastUse(t *testing.T) {
	tok := models.Token{CreatedAt: t0}
	if tok.Expired(t0.Add(models.TokenLifetime)) {
		t.Fatal("expired at exactly 14 days")
	}
	if !tok.Expired(t0.Add(models.TokenLifetime + time.Second)) {
		t.Fatal("not expired at 14 days + 1 second")
	}
	used := t0.Add(10 * 24 * time.Hour)
	tok.LastUsedAt = &used
	if tok.Expired(t0.Add(models.TokenLifetime + time.Second)) {
		t.Fatal("a use on day 10 did not extend the token")
	}
	if !tok.ExpiresAt().Equal(used.Add(models.TokenLifetime)) {
		t.Fatalf("ExpiresAt = %v, want 14 days after the last use", tok.ExpiresAt())
	}
}

// countStatements counts the statements of kind ("query" or "update")
// that GORM sends to table from now on.
func countStatements(t *testing.T, db *gorm.DB, kind, table string) *int {
	t.Helper()
	n := new(int)
	count := func(tx *gorm.DB) {
		if tx.Statement.Table == table {
			*n++
		}
	}
	name := "test:count_" + kind + "_" + table
	var err error
	switch kind {
	case "query":
		err = db.Callback().Query().Before("gorm:query").Register(name, count)
	case "update":
		err = db.Callback().Update().Before("gorm:update").Register(name, count)
	default:
		t.Fatalf("countStatements: unknown kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// useToken finds the token plain as a request does and records its use at
// at, reporting whether that wrote.
func useToken(t *testing.T, db *gorm.DB, plain string, at time.Time) bool {
	t.Helper()
	tok, err := models.TokenByPlaintext(context.Background(), db, plain)
	if err != nil {
		t.Fatal(err)
	}
	wrote, err := models.TouchToken(context.Background(), db, tok, at)
	if err != nil {
		t.Fatal(err)
	}
	return wrote
}

func TestTouchWritesAtMostOnceAMinute(t *testing.T) {
	ctx := context.Background()
	a := newAliceToken(t, "t")
	db, plain := a.db, a.plain
	writes := knottest.CountLastUsedWrites(t, db)
	// The trigger counts rows changed; this counts UPDATE statements sent,
	// so a use within the minute is seen to cost no write attempt at all.
	statements := countStatements(t, db, "update", "api_tokens")
	if !useToken(t, db, plain, t0) {
		t.Fatal("first use did not write")
	}
	for i := range 50 {
		if useToken(t, db, plain, t0.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("use %d seconds later wrote again", i)
		}
	}
	if got := writes(); got != 1 || *statements != 1 {
		t.Fatalf("%d writes (%d UPDATE statements) for 51 uses within a minute, want 1", got, *statements)
	}
	if !useToken(t, db, plain, t0.Add(time.Minute)) {
		t.Fatal("a use a minute later did not write")
	}
	if got := writes(); got != 2 {
		t.Fatalf("%d writes, want 2", got)
	}
	tok, _ := models.TokenByPlaintext(ctx, db, plain)
	if tok.LastUsedAt == nil || !tok.LastUsedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("last used = %v, want %v", tok.LastUsedAt, t0.Add(time.Minute))
	}
}

// Two requests that both loaded the token before either wrote: only one writes.
func TestOfTwoTouchesFromTheSameReadingOnlyOneWrites(t *testing.T) {
	ctx := context.Background()
	a := newAliceToken(t, "t")
	db, plain := a.db, a.plain
	writes := knottest.CountLastUsedWrites(t, db)
	stale1, _ := models.TokenByPlaintext(ctx, db, plain)
	stale2, _ := models.TokenByPlaintext(ctx, db, plain)
	later := t0.Add(5 * time.Minute)
	w1, _ := models.TouchToken(ctx, db, stale1, later)
	w2, _ := models.TouchToken(ctx, db, stale2, later)
	if !w1 || w2 || writes() != 1 {
		t.Fatalf("racing touches wrote %v/%v, %d writes in all; want exactly one", w1, w2, writes())
	}
}

func TestSweepDeletesExactlyTheExpiredTokens(t *testing.T) {
	ctx := context.Background()
	db, v := openDB(t), kit.Vault(t)
	uid := addUser(t, db, "alice")
	// A clock reading with a fraction of a second, as time.Now gives: the
	// stored times trim trailing zeros, and the comparison must still hold.
	now := t0.Add(30*24*time.Hour + 123*time.Millisecond)
	day := 24 * time.Hour

	// name → created, last used (zero = never), whether it must survive.
	cases := []struct {
		name     string
		created  time.Time
		used     time.Time
		survives bool
	}{
		{"never used, 14 days + 1s old", now.Add(-14*day - time.Second), time.Time{}, false},
		{"never used, exactly 14 days old", now.Add(-14 * day), time.Time{}, true},
		{"never used, 14 days + 1ms old", now.Add(-14*day - time.Millisecond), time.Time{}, false},
		{"never used, 14 days - 1µs old", now.Add(-14*day + time.Microsecond), time.Time{}, true},
		{"never used, 1 day old", now.Add(-day), time.Time{}, true},
		{"old but used 13 days ago", now.Add(-29 * day), now.Add(-13 * day), true},
		{"old, used exactly 14 days ago", now.Add(-29 * day), now.Add(-14 * day), true},
		{"old, used 14 days + 1s ago", now.Add(-29 * day), now.Add(-14*day - time.Second), false},
		{"old, used 20 days ago", now.Add(-29 * day), now.Add(-20 * day), false},
	}
	ids := map[string]uint{}
	for _, c := range cases {
		tok, _ := mustCreate(t, db, v, uid, c.name, c.created)
		if !c.used.IsZero() {
			if _, err := models.TouchToken(ctx, db, tok, c.used); err != nil {
				t.Fatal(err)
			}
		}
		ids[c.name] = tok.ID
	}
	n, err := models.SweepExpiredTokens(ctx, db, now)
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("sweep deleted %d tokens, want 4", n)
	}
	for _, c := range cases {
		_, err := models.TokenByOwner(ctx, db, uid, ids[c.name])
		if gone := errors.Is(err, models.ErrNotFound); gone == c.survives {
			t.Errorf("%s: deleted = %v, want %v", c.name, gone, !c.survives)
		}
	}
	// The sweep and Token.Expired agree on every survivor.
	left, _ := models.ListTokens(ctx, db, uid)
	for _, tok := range left {
		if tok.Expired(now) {
			t.Errorf("%s survived the sweep but is expired", tok.Name)
		}
	}
	if n, _ := models.SweepExpiredTokens(ctx, db, now); n != 0 {
		t.Errorf("a second sweep deleted %d", n)
	}
}

func TestDeletingAUserDeletesTheirTokens(t *testing.T) {
	ctx := context.Background()
	a := newAliceToken(t, "t")
	if err := a.db.Exec(`DELETE FROM users WHERE id = ?`, a.uid).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := models.TokenByPlaintext(ctx, a.db, a.plain); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("token of a deleted user: %v, want ErrNotFound", err)
	}
}
