package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/views"
	"github.com/knot-dev/knot/webctx"
)

// Session keys for what the API Tokens page shows once after a redirect.
// The new token travels as its id, never as plaintext: the session store is
// a database table too.
const (
	flashNewTokenID = "new_token_id"
	flashTokenNote  = "token_notice"
)

// maxTokenBodyBytes bounds an API request body; a token request is tiny.
const maxTokenBodyBytes = 16 << 10

// tokensPerPage is how many tokens a page of the list shows: enough to
// scroll through, few enough that a user with thousands of tokens still
// gets a small page.
const tokensPerPage = 50

// tokensChanged is the htmx event a create or delete sends (HX-Trigger):
// the list fetches its page again, so the count, the pages and the rows
// follow the change.
const tokensChanged = "tokens-changed"

// tokensEnabled answers 404 for every token page and endpoint while
// server.ui.hide_api_tokens hides the feature for everyone. Tokens made
// before keep authenticating until they expire: the setting hides the
// management, it does not cut off leaf nodes already configured.
func (h *Handlers) tokensEnabled(c *gin.Context) {
	if h.cfg.Server.UI.HideAPITokens {
		h.fail(c, http.StatusNotFound, "API tokens are turned off on this server. Ask your site administrator if you need one.")
		return
	}
	c.Next()
}

// tokensPage is GET /api-tokens[?page=N][&q=…]: the page, or for htmx (a
// search, a page link, a refresh after a change) just the list.
func (h *Handlers) tokensPage(c *gin.Context) {
	if !isHTMX(c) {
		h.showTokens(c, http.StatusOK, views.TokenForm{})
		return
	}
	list, ok := h.tokenList(c)
	if !ok {
		return
	}
	noStore(c)
	h.render(c, http.StatusOK, views.TokenListView(list))
}

// tokenList loads the page of the caller's tokens that ?page= and ?q= ask
// for; a missing or bad page is the first. When it returns false it has
// answered already.
func (h *Handlers) tokenList(c *gin.Context) (views.TokenList, bool) {
	ctx := c.Request.Context()
	me := webctx.Identity(ctx)
	q := strings.TrimSpace(c.Query("q"))
	page, err := strconv.Atoi(c.Query("page"))
	if err != nil || page < 1 {
		page = 1
	}
	list, total, err := models.ListTokenPage(ctx, h.db, me.ID, q, page, tokensPerPage)
	if err != nil {
		h.log.Error("list API tokens", "user_id", me.ID, "err", err)
		h.failErr(c, err, "Your tokens could not be loaded; try again in a moment.")
		return views.TokenList{}, false
	}
	return views.TokenList{
		Tokens:  list,
		Total:   total,
		Page:    min(page, models.LastPage(total, tokensPerPage)), // as ListTokenPage clamped it
		PerPage: tokensPerPage,
		Query:   q,
		Now:     h.now(),
	}, true
}

// newTokenForm is GET /api-tokens/new: the panel with the form open for
// htmx, the whole page with the form open otherwise.
func (h *Handlers) newTokenForm(c *gin.Context) {
	form := views.TokenForm{Open: true}
	if isHTMX(c) {
		h.render(c, http.StatusOK, views.TokenPanelView(views.TokenPanel{Form: form}))
		return
	}
	h.showTokens(c, http.StatusOK, form)
}

// showTokens renders the whole page with form in the panel, plus what the
// session holds from a redirect: a token just created, a notice.
func (h *Handlers) showTokens(c *gin.Context, status int, form views.TokenForm) {
	ctx := c.Request.Context()
	me := webctx.Identity(ctx)
	list, ok := h.tokenList(c)
	if !ok {
		return
	}
	page := views.TokensPage{List: list, Panel: views.TokenPanel{Form: form}}
	if id := h.sessions.PopInt(ctx, flashNewTokenID); id > 0 {
		// The one token this page shows in full, decrypted on its own.
		t, err := models.RevealToken(ctx, h.db, h.vault, me.ID, uint(id))
		switch {
		case err == nil && t.Plaintext != "":
			page.Panel.Created = t
		case err == nil:
			h.log.Warn("API token cannot be decrypted; was server.encrypt changed?", "token_id", t.ID)
		case !errors.Is(err, models.ErrNotFound): // deleted since: nothing to show
			h.log.Error("reveal new API token", "user_id", me.ID, "token_id", id, "err", err)
		}
	}
	page.Notice = h.sessions.PopString(ctx, flashTokenNote)
	noStore(c)
	h.render(c, status, views.TokensPageView(page))
}

// createToken is POST /api-tokens, from the New Token form with or without
// htmx.
func (h *Handlers) createToken(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxFormBytes)
	if err := c.Request.ParseForm(); err != nil {
		h.fail(c, http.StatusBadRequest, "The form could not be read; reload the page and try again.")
		return
	}
	ctx := c.Request.Context()
	me := webctx.Identity(ctx)
	typed := c.PostForm("name")
	tok, plain, err := models.CreateToken(ctx, h.db, h.vault, me.ID, typed, h.now(), h.cfg.Server.MaxTokensPerUser)
	if err != nil {
		form := views.TokenForm{Open: true, Name: typed}
		status := http.StatusUnprocessableEntity
		var fe models.FieldErrors
		var full *models.ConflictError
		switch {
		case errors.As(err, &fe):
			form.Error = fe["name"]
		case errors.As(err, &full):
			form.Error, status = full.Message, http.StatusConflict
		default:
			h.log.Error("create API token", "user_id", me.ID, "err", err)
			status, form.Error = serverProblem(err, "The token could not be saved because of a server problem; try again in a moment.")
		}
		if isHTMX(c) {
			// htmx swaps only 2xx answers; retarget to the form so a token
			// shown above it stays on screen.
			c.Header("HX-Retarget", "#token-form")
			c.Header("HX-Reswap", "outerHTML")
			h.render(c, http.StatusOK, views.TokenFormView(form))
			return
		}
		h.showTokens(c, status, form)
		return
	}
	h.log.Info("API token created", "user_id", me.ID, "token_id", tok.ID)
	if isHTMX(c) {
		created := models.RevealedToken{Token: *tok, Plaintext: plain}
		panel := views.TokenPanel{Created: &created, Form: views.TokenForm{Open: true}}
		noStore(c)
		c.Header("HX-Trigger", tokensChanged)
		h.render(c, http.StatusOK, views.TokenCreatedResponse(panel, *tok, h.now()))
		return
	}
	h.sessions.Put(ctx, flashNewTokenID, int(tok.ID))
	h.redirect(c, "/api-tokens")
}

// tokenPage is GET /api-tokens/{id}: one token in full, where the copy link
// leads when JavaScript is off.
func (h *Handlers) tokenPage(c *gin.Context) {
	ctx := c.Request.Context()
	me := webctx.Identity(ctx)
	id, ok := parseID(c)
	if !ok {
		h.notFound(c)
		return
	}
	t, err := models.RevealToken(ctx, h.db, h.vault, me.ID, id)
	if h.tokenLookupFailed(c, err) {
		return
	}
	noStore(c)
	h.render(c, http.StatusOK, views.TokenPageView(*t, h.now()))
}

// tokenSecret is GET /api-tokens/{id}/secret: the full token, as plain
// text, for the list's Copy button, which fetches the one token a person
// copies instead of the page carrying them all. Only the owner gets it
// (another's is 404, like a missing one), and it is never cached, logged,
// or readable by another origin.
func (h *Handlers) tokenSecret(c *gin.Context) {
	ctx := c.Request.Context()
	me := webctx.Identity(ctx)
	id, ok := parseID(c)
	if !ok {
		h.notFound(c)
		return
	}
	t, err := models.RevealToken(ctx, h.db, h.vault, me.ID, id)
	if h.tokenLookupFailed(c, err) {
		return
	}
	noStore(c)
	if t.Plaintext == "" {
		h.log.Warn("API token cannot be decrypted; was server.encrypt changed?", "token_id", t.ID)
		h.fail(c, http.StatusConflict, "This token cannot be copied: the server's encryption key changed since it was created. It still works; create a new token if you need to copy one.")
		return
	}
	c.Header("Cross-Origin-Resource-Policy", "same-origin")
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(t.Plaintext))
}

// confirmDeleteToken is GET /api-tokens/{id}/delete: the question htmx asks
// with hx-confirm, as a page.
func (h *Handlers) confirmDeleteToken(c *gin.Context) {
	ctx := c.Request.Context()
	me := webctx.Identity(ctx)
	id, ok := parseID(c)
	if !ok {
		h.notFound(c)
		return
	}
	t, err := models.TokenByOwner(ctx, h.db, me.ID, id)
	if h.tokenLookupFailed(c, err) {
		return
	}
	h.render(c, http.StatusOK, views.TokenDeletePage(*t))
}

// deleteToken is DELETE /api-tokens/{id} from htmx: 200 with an empty body,
// which the outerHTML swap turns into the row disappearing.
func (h *Handlers) deleteToken(c *gin.Context) {
	if _, ok := h.removeToken(c); ok {
		c.Header("HX-Trigger", tokensChanged)
		c.Status(http.StatusOK)
	}
}

// deleteTokenSubmit is POST /api-tokens/{id}/delete, the form without
// JavaScript.
func (h *Handlers) deleteTokenSubmit(c *gin.Context) {
	t, ok := h.removeToken(c)
	if !ok {
		return
	}
	h.sessions.Put(c.Request.Context(), flashTokenNote, fmt.Sprintf("Deleted the token “%s”.", t.Name))
	h.redirect(c, "/api-tokens")
}

// removeToken deletes the caller's token named by the {id} path parameter.
// When it returns false it has answered already.
func (h *Handlers) removeToken(c *gin.Context) (*models.Token, bool) {
	ctx := c.Request.Context()
	me := webctx.Identity(ctx)
	id, ok := parseID(c)
	if !ok {
		h.notFound(c)
		return nil, false
	}
	t, err := models.DeleteToken(ctx, h.db, me.ID, id)
	if h.tokenLookupFailed(c, err) {
		return nil, false
	}
	h.log.Info("API token deleted", "user_id", me.ID, "token_id", t.ID)
	return t, true
}

// tokenLookupFailed answers a failed look-up of the caller's token: 404
// for a token that is not theirs or not there (the two look the same), 500
// otherwise.
func (h *Handlers) tokenLookupFailed(c *gin.Context, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, models.ErrNotFound):
		h.fail(c, http.StatusNotFound, "There is no such token among yours. It may have been deleted, or expired after 14 days unused.")
	default:
		h.log.Error("API token", "path", c.Request.URL.Path, "err", err)
		h.failErr(c, err, "The token could not be loaded because of a server problem; try again in a moment.")
	}
	return true
}

// noStore keeps a response that carries a full token out of every cache,
// the browser's back/forward and disk caches included.
func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
}

func parseID(c *gin.Context) (uint, bool) {
	id, err := strconv.ParseUint(c.Param("id"), 10, 32)
	return uint(id), err == nil && id > 0
}

// tokenJSON is the API shape of a token. Token is set only in the answer
// to a create: the one time the API sends it.
type tokenJSON struct {
	ID         uint    `json:"id"`
	Name       string  `json:"name"`
	Prefix     string  `json:"prefix"`
	CreatedAt  string  `json:"created_at"`
	LastUsedAt *string `json:"last_used_at"`
	ExpiresAt  string  `json:"expires_at"`
	Token      string  `json:"token,omitempty"`
}

func newTokenJSON(t *models.Token) tokenJSON {
	out := tokenJSON{
		ID:        t.ID,
		Name:      t.Name,
		Prefix:    t.Prefix,
		CreatedAt: t.CreatedAt.UTC().Format(time.RFC3339),
		ExpiresAt: t.ExpiresAt().UTC().Format(time.RFC3339),
	}
	if t.LastUsedAt != nil {
		s := t.LastUsedAt.UTC().Format(time.RFC3339)
		out.LastUsedAt = &s
	}
	return out
}

// apiListTokens is GET /api/tokens: the caller's tokens, no secrets.
func (h *Handlers) apiListTokens(c *gin.Context) {
	ctx := c.Request.Context()
	me := webctx.Identity(ctx)
	list, err := models.ListTokens(ctx, h.db, me.ID)
	if err != nil {
		h.log.Error("list API tokens", "user_id", me.ID, "err", err)
		h.failErr(c, err, "Your tokens could not be loaded; try again in a moment.")
		return
	}
	out := make([]tokenJSON, len(list))
	for i := range list {
		out[i] = newTokenJSON(&list[i])
	}
	c.JSON(http.StatusOK, out)
}

// apiCreateToken is POST /api/tokens {"name": …} → 201 with the token.
func (h *Handlers) apiCreateToken(c *gin.Context) {
	ctx := c.Request.Context()
	me := webctx.Identity(ctx)
	name, ok := h.readTokenRequest(c)
	if !ok {
		return
	}
	tok, plain, err := models.CreateToken(ctx, h.db, h.vault, me.ID, name, h.now(), h.cfg.Server.MaxTokensPerUser)
	var fe models.FieldErrors
	switch {
	case errors.As(err, &fe):
		h.fail(c, http.StatusBadRequest, "name: "+fe["name"])
		return
	case h.apiRefusal(c, err):
		return
	case err != nil:
		h.log.Error("create API token", "user_id", me.ID, "err", err)
		h.failErr(c, err, "The token could not be saved because of a server problem; try again in a moment.")
		return
	}
	h.log.Info("API token created", "user_id", me.ID, "token_id", tok.ID)
	out := newTokenJSON(tok)
	out.Token = plain
	noStore(c)
	c.JSON(http.StatusCreated, out)
}

// apiDeleteToken is DELETE /api/tokens/{id}: 200, or 404 when the token is
// not the caller's.
func (h *Handlers) apiDeleteToken(c *gin.Context) {
	if _, ok := h.removeToken(c); ok {
		c.JSON(http.StatusOK, gin.H{"status": true})
	}
}

const tokenBodyExample = `{"name":"Leaf Test"}`

// readTokenRequest decodes {"name": "…"} strictly and returns the name; on
// a bad body it has already answered 400 naming the problem.
func (h *Handlers) readTokenRequest(c *gin.Context) (string, bool) {
	var req struct {
		Name *string `json:"name"`
	}
	if !h.decodeJSON(c, &req, maxTokenBodyBytes) {
		return "", false
	}
	if req.Name == nil {
		h.fail(c, http.StatusBadRequest, `name is required: send a JSON object like `+tokenBodyExample+".")
		return "", false
	}
	return *req.Name, true
}
