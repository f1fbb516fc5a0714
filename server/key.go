package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"gorm.io/gorm"

	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/vault"
)

const generatedKeyFile = "encrypt.key"

// NewKey returns a fresh 32-byte key, base64 encoded, as `knot genkey` prints.
func NewKey() string {
	b := make([]byte, 32)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
	return base64.StdEncoding.EncodeToString(b)
}

// ensureEncryptKey fills in server.encrypt from the data directory when the
// configuration leaves it empty, generating the key (mode 0600) on the first
// start.
func ensureEncryptKey(cfg *config.Config) error {
	if cfg.Server.Encrypt != "" {
		return nil
	}
	path := filepath.Join(cfg.DataDir(), generatedKeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(cfg.DataDir(), 0o700); err != nil {
			return err
		}
		key := NewKey()
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("create encryption key %s: %w", path, err)
		}
		if _, err := f.WriteString(key + "\n"); err != nil {
			f.Close()
			return fmt.Errorf("write encryption key %s: %w", path, err)
		}
		if err := f.Close(); err != nil {
			return err
		}
		cfg.Server.Encrypt = key
		return nil
	}
	if err != nil {
		return fmt.Errorf("read encryption key %s: %w", path, err)
	}
	cfg.Server.Encrypt = strings.TrimSpace(string(b))
	if _, err := cfg.EncryptKey(); err != nil {
		return fmt.Errorf("encryption key in %s %v; restore it from a backup (secrets encrypted with it cannot be read without it)", path, err)
	}
	return nil
}

// openVault fills in server.encrypt (see ensureEncryptKey) and returns the
// vault for it.
func openVault(cfg *config.Config) (*vault.Vault, error) {
	if err := ensureEncryptKey(cfg); err != nil {
		return nil, err
	}
	key, err := cfg.EncryptKey()
	if err != nil {
		return nil, fmt.Errorf("server.encrypt: the key %v", err)
	}
	return vault.New(key)
}

// checkKey refuses a database whose secrets are sealed under another key.
func checkKey(ctx context.Context, db *gorm.DB, v *vault.Vault) error {
	err := models.CheckEncryptKey(ctx, db, v)
	if errors.Is(err, models.ErrKeyMismatch) {
		return fmt.Errorf("server.encrypt differs from the key this database was first used with (in a cluster: the other servers' server.encrypt); every server on one database needs the same key, so copy it from a server that starts")
	}
	return err
}
