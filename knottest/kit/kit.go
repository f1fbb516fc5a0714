// Package kit holds the test helpers that the packages knottest itself
// builds on (handlers, leaf, models) can use from their internal tests:
// they cannot import knottest, which imports them, so these import nothing
// of knot's but models and vault.
package kit

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm"

	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/vault"
)

// SQLite opens and migrates a SQLite database file of the test's own,
// named name in a temp dir, and closes it when the test ends.
func SQLite(t testing.TB, name string) *gorm.DB {
	t.Helper()
	db, err := models.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { models.Close(db) })
	return db
}

// Vault is a vault with a new random key.
func Vault(t testing.TB) *vault.Vault {
	t.Helper()
	key := make([]byte, vault.KeySize)
	rand.Read(key)
	v, err := vault.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// LogBuffer collects a server's log lines for assertions; it is safe for
// the server's goroutines to write while the test reads.
type LogBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything logged so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
