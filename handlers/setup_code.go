package handlers

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/models"
)

// Setup code guesses per client IP: a burst for typos, then one every
// interval. The code has 80 random bits, so this is defence in depth; it
// holds whatever server.auth_ip_rate_limiting says, because the setup page
// guards the whole server rather than one account.
const (
	setupCodeBurst    = 5
	setupCodeInterval = 30 * time.Second
)

func setupCodeKey(ip string) string { return "setup:" + ip }

// askSetupCode reports whether this request must give the setup code. Only
// the TCP peer counts, never X-Forwarded-For, which anyone can send.
func (h *Handlers) askSetupCode(c *gin.Context) bool {
	return !(h.cfg.Server.SetupFromLoopback && fromLoopback(c.Request.RemoteAddr))
}

func fromLoopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// takeSetupCodeAttempt spends one guess of the client's; when none is left
// it returns false and how long until the next.
func (h *Handlers) takeSetupCodeAttempt(ctx context.Context, ip string) (bool, time.Duration, error) {
	ok, wait, err := models.TakeAttempt(ctx, h.db, h.now(),
		models.Limit{Key: setupCodeKey(ip), Burst: setupCodeBurst, Every: setupCodeInterval})
	if err != nil || ok {
		return ok, 0, err
	}
	return false, wait.Round(time.Second) + time.Second, nil
}

// Messages beside the setup code field. Both say where the code is, since
// whoever sees them is most likely looking for it.
const (
	msgSetupCodeMissing = "Enter the setup code: it is in the server's log, on the line “initial setup code: …”; `knot setup-code --config knot.toml` on the server prints it again."
	msgSetupCodeWrong   = "That is not this server's setup code. Copy it from the server's log, on the line “initial setup code: …”, or run `knot setup-code --config knot.toml` on the server."
)

// checkSetupCode decides on the code typed into the setup form. It returns
// the message for the field ("" when the code is right), and when the
// client has no guesses left, how long until the next. Every typed code
// costs a guess, the right one too, so a throttled client learns nothing
// from trying. Nothing is refunded for the right code: forgetting the
// bucket would race other requests drawing on it, and someone who has the
// code needs no more than the burst to fix the rest of the form.
func (h *Handlers) checkSetupCode(c *gin.Context, typed string) (msg string, wait time.Duration, err error) {
	if strings.TrimSpace(typed) == "" {
		return msgSetupCodeMissing, 0, nil
	}
	ctx, ip := c.Request.Context(), c.ClientIP()
	ok, wait, err := h.takeSetupCodeAttempt(ctx, ip)
	if err != nil {
		return "", 0, err
	}
	if !ok {
		return fmt.Sprintf("Too many wrong setup codes from your address. Try again in %d seconds.", int(wait.Seconds())), wait, nil
	}
	right, err := models.CheckSetupCode(ctx, h.db, h.vault, typed)
	if err != nil {
		return "", 0, err
	}
	if !right {
		h.log.Warn("initial setup refused: wrong setup code", "ip", ip)
		return msgSetupCodeWrong, 0, nil
	}
	return "", 0, nil
}
