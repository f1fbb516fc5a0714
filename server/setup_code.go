package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"gorm.io/gorm"

	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/vault"
)

// ErrLeafHasNoSetup is SetupCode's answer on a leaf node.
var ErrLeafHasNoSetup = errors.New("this server is a leaf node (server.origin.server and server.origin.token are set): it has no initial setup; sign in on it with your account on the origin")

// announceSetupCode logs the initial setup code at every start until the
// first admin exists, so whoever runs the server, and only they, can
// complete the setup that a default listen address of ":3000" offers to
// the whole network. Every server of a cluster logs the same code.
func announceSetupCode(ctx context.Context, cfg *config.Config, db *gorm.DB, v *vault.Vault, log *slog.Logger) error {
	code, err := models.SetupCode(ctx, db, v)
	if errors.Is(err, models.ErrSetupDone) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("initial setup code: %w", err)
	}
	page := strings.TrimRight(cfg.Server.URL, "/") + "/initial-system-setup"
	log.Info("initial setup code: "+code, "page", page,
		"note", "enter this code on the setup page to create the first admin; `knot setup-code` prints it again")
	if cfg.Server.SetupFromLoopback {
		log.Warn("server.setup_from_loopback is true: a browser on this machine can create the first admin without the setup code; behind a reverse proxy on this machine, so can everyone", "page", page)
	}
	return nil
}

// SetupCode returns the initial setup code while no admin exists,
// models.ErrSetupDone once one does, and ErrLeafHasNoSetup on a leaf.
func (s *Server) SetupCode(ctx context.Context) (string, error) {
	if s.leaf != nil {
		return "", ErrLeafHasNoSetup
	}
	return models.SetupCode(ctx, s.db, s.vault)
}

// SetupCode opens the database cfg names, as a starting server does, and
// returns its initial setup code (creating it if no server has yet); it is
// what `knot setup-code` prints. Errors are as for (*Server).SetupCode.
//
// It deliberately does not take the data directory's lock: people ask for
// the code while the server runs, which holds that lock. Beside a running
// server this is safe: migrations are already applied, and the only
// possible write is the code's one row, inserted only if absent (the
// running server has inserted it already), so both agree on the code.
func SetupCode(ctx context.Context, cfg config.Config) (string, error) {
	if cfg.IsLeaf() {
		return "", ErrLeafHasNoSetup
	}
	secrets, err := openVault(&cfg)
	if err != nil {
		return "", err
	}
	db, err := models.Open(ctx, databaseSource(&cfg))
	if err != nil {
		return "", err
	}
	defer models.Close(db)
	if err := checkKey(ctx, db, secrets); err != nil {
		return "", err
	}
	return models.SetupCode(ctx, db, secrets)
}
