package server

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/knot-dev/knot/config"
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
