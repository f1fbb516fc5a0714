package vault_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/knot-dev/knot/vault"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, vault.KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func mustVault(t *testing.T, key []byte) *vault.Vault {
	t.Helper()
	v, err := vault.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSealThenOpenRoundTrips(t *testing.T) {
	v := mustVault(t, newKey(t))
	for _, plain := range [][]byte{{}, []byte("x"), []byte("dp2IlH_wQWIA_ad_UApHjAGYLZMcvn4vsH383N-AB2I="), bytes.Repeat([]byte{0xff}, 4096)} {
		sealed, err := v.Seal(plain, []byte("ctx"))
		if err != nil {
			t.Fatal(err)
		}
		// Short plaintexts can turn up in base64 by chance; long ones cannot.
		if len(plain) >= 16 && strings.Contains(sealed, string(plain)) {
			t.Fatalf("sealed value contains the plaintext")
		}
		got, err := v.Open(sealed, []byte("ctx"))
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("Open = %q, %v; want %q", got, err, plain)
		}
	}
}

func TestSealUsesAFreshNonceEachTime(t *testing.T) {
	v := mustVault(t, newKey(t))
	a, _ := v.Seal([]byte("same"), nil)
	b, _ := v.Seal([]byte("same"), nil)
	if a == b {
		t.Fatal("sealing the same value twice gave the same output: the nonce is not random")
	}
}

func TestTamperedValueDoesNotOpen(t *testing.T) {
	v := mustVault(t, newKey(t))
	sealed, _ := v.Seal([]byte("secret token"), []byte("row 1"))
	raw, _ := base64.StdEncoding.DecodeString(sealed)
	for i := range raw {
		bad := bytes.Clone(raw)
		bad[i] ^= 0x01
		if _, err := v.Open(base64.StdEncoding.EncodeToString(bad), []byte("row 1")); !errors.Is(err, vault.ErrOpen) {
			t.Fatalf("flipping a bit at byte %d: err = %v, want ErrOpen", i, err)
		}
	}
	for _, bad := range []string{"", "not base64!", base64.StdEncoding.EncodeToString(raw[:10]), sealed[:len(sealed)-4]} {
		if _, err := v.Open(bad, []byte("row 1")); !errors.Is(err, vault.ErrOpen) {
			t.Fatalf("Open(%q) err = %v, want ErrOpen", bad, err)
		}
	}
}

func TestWrongKeyOrContextDoesNotOpen(t *testing.T) {
	v := mustVault(t, newKey(t))
	other := mustVault(t, newKey(t))
	sealed, _ := v.Seal([]byte("secret token"), []byte("row 1"))
	if _, err := other.Open(sealed, []byte("row 1")); !errors.Is(err, vault.ErrOpen) {
		t.Fatalf("another key: err = %v, want ErrOpen", err)
	}
	if _, err := v.Open(sealed, []byte("row 2")); !errors.Is(err, vault.ErrOpen) {
		t.Fatalf("another context: err = %v, want ErrOpen", err)
	}
}

func TestKeyMustBe32Bytes(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := vault.New(make([]byte, n)); err == nil {
			t.Errorf("New with a %d-byte key succeeded", n)
		}
	}
}
