// Package vault encrypts small secrets at rest with AES-256-GCM under the
// server's key (server.encrypt). Whatever must be shown again later (an API
// token the owner copies from the list) is sealed here; whatever only needs
// checking is hashed instead and never comes near this package.
package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// KeySize is the length of the key: AES-256.
const KeySize = 32

// ErrOpen is returned when a sealed value cannot be opened: it was changed,
// cut short, sealed under another key, or sealed for another context.
var ErrOpen = errors.New("vault: the sealed value cannot be opened (wrong key, wrong context or tampered)")

// Vault seals and opens values with one key. It is safe for concurrent use.
type Vault struct {
	aead cipher.AEAD
}

// New returns a vault for a 32-byte key.
func New(key []byte) (*Vault, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("vault: key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	return &Vault{aead: aead}, nil
}

// Seal encrypts plaintext and returns base64(nonce || ciphertext || tag).
// context is authenticated but not stored: Open must be given the same
// bytes, so a sealed value copied onto another row (whose context differs)
// fails to open instead of revealing the wrong secret.
func (v *Vault) Seal(plaintext, context []byte) (string, error) {
	// A fresh random 96-bit nonce per value: the number of secrets a knot
	// server seals is far below the 2^32 where random nonces get risky.
	nonce := make([]byte, v.aead.NonceSize(), v.aead.NonceSize()+len(plaintext)+v.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("vault: read nonce: %w", err)
	}
	return base64.StdEncoding.EncodeToString(v.aead.Seal(nonce, nonce, plaintext, context)), nil
}

// Open reverses Seal. Any change to the sealed value, another key or
// another context gives ErrOpen.
func (v *Vault) Open(sealed string, context []byte) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < v.aead.NonceSize()+v.aead.Overhead() {
		return nil, ErrOpen
	}
	n := v.aead.NonceSize()
	out, err := v.aead.Open(nil, raw[:n], raw[n:], context)
	if err != nil {
		return nil, ErrOpen
	}
	return out, nil
}
