package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/api"
	"github.com/knot-dev/knot/htmx"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/views"
	"github.com/knot-dev/knot/webctx"
)

// flashNewTokenID is the session key of the token the API Tokens page shows
// in full once, after a redirect.
// The new token travels as its id, never as plaintext: the session store is
// a database table too.
const flashNewTokenID = "new_token_id"

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

// listTokens is GET /api/tokens (every one of the caller's tokens as JSON, no
// secrets) and GET /api-tokens[?page=N][&q=…]: the page, or for htmx (a
// search, a page link, a refresh after a change) just the list.
func (h *Handlers) listTokens(c *gin.Context) error {
	if isAPI(c) {
		list, err := models.ListTokens(c.Request.Context(), h.db, webctx.Identity(c.Request.Context()).ID)
		if err != nil {
			return failed("load your tokens", err)
		}
		c.JSON(http.StatusOK, mapSlice(list, newTokenJSON))
		return nil
	}
	if !isHTMX(c) {
		return h.showTokens(c, http.StatusOK, views.TokenForm{})
	}
	list, err := h.tokenList(c)
	if err != nil {
		return err
	}
	noStore(c)
	h.render(c, http.StatusOK, views.TokenListView(list))
	return nil
}

// tokenList loads the page of the caller's tokens that ?page= and ?q= ask
// for; a missing or bad page is the first.
func (h *Handlers) tokenList(c *gin.Context) (views.TokenList, error) {
	ctx := c.Request.Context()
	me := webctx.Identity(ctx)
	q := strings.TrimSpace(c.Query("q"))
	page, err := strconv.Atoi(c.Query("page"))
	if err != nil || page < 1 {
		page = 1
	}
	list, total, err := models.ListTokenPage(ctx, h.db, me.ID, q, page, tokensPerPage)
	if err != nil {
		return views.TokenList{}, failed("load your tokens", err)
	}
	return views.TokenList{
		Tokens:  list,
		Total:   total,
		Page:    min(page, models.LastPage(total, tokensPerPage)), // as ListTokenPage clamped it
		PerPage: tokensPerPage,
		Query:   q,
		Now:     h.now(),
	}, nil
}

// newTokenForm is GET /api-tokens/new: the panel with the form open for
// htmx, the whole page with the form open otherwise.
func (h *Handlers) newTokenForm(c *gin.Context) error {
	form := views.TokenForm{Open: true}
	if isHTMX(c) {
		h.render(c, http.StatusOK, views.TokenPanelView(views.TokenPanel{Form: form}))
		return nil
	}
	return h.showTokens(c, http.StatusOK, form)
}

// showTokens renders the whole page with form in the panel, plus what the
// session holds from a redirect: a token just created, a notice.
func (h *Handlers) showTokens(c *gin.Context, status int, form views.TokenForm) error {
	ctx := c.Request.Context()
	me := webctx.Identity(ctx)
	list, err := h.tokenList(c)
	if err != nil {
		return err
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
	page.Notice = h.popNotice(c)
	noStore(c)
	h.render(c, status, views.TokensPageView(page))
	return nil
}

// tokenInput is a new token's name, from the New Token form or from
// {"name": …}.
type tokenInput struct {
	Name *string `json:"name"`
}

func (in *tokenInput) fromForm(f url.Values) {
	name := f.Get("name")
	in.Name = &name
}

const tokenBodyExample = `{"name":"Leaf Test"}`

// createToken is POST /api/tokens (201 with the token, the one time the
// API sends it) and POST /api-tokens from the New Token form, with or
// without htmx.
func (h *Handlers) createToken(c *gin.Context) error {
	var in tokenInput
	if err := bind(c, &in, bodyLimit(c, maxTokenBodyBytes, maxFormBytes)); err != nil {
		return err
	}
	if in.Name == nil {
		return badRequest(`name is required: send a JSON object like ` + tokenBodyExample + ".")
	}
	ctx := c.Request.Context()
	me := webctx.Identity(ctx)
	tok, plain, err := models.CreateToken(ctx, h.db, h.vault, me.ID, *in.Name, h.now(), h.cfg.Server.MaxTokensPerUser)
	if err != nil {
		return withForm(failed("save the token", err), h.tokenFormAgain(*in.Name))
	}
	h.log.Info("API token created", "user_id", me.ID, "token_id", tok.ID)
	noStore(c)
	switch {
	case isAPI(c):
		out := newTokenJSON(tok)
		out.Token = plain
		c.JSON(http.StatusCreated, out)
	case isHTMX(c):
		created := models.RevealedToken{Token: *tok, Plaintext: plain}
		panel := views.TokenPanel{Created: &created, Form: views.TokenForm{Open: true}}
		htmx.Trigger(c.Writer, tokensChanged)
		h.render(c, http.StatusOK, views.TokenCreatedResponse(panel, *tok, h.now()))
	default:
		h.sessions.Put(ctx, flashNewTokenID, int(tok.ID))
		h.redirect(c, "/api-tokens")
	}
	return nil
}

// tokenFormAgain shows the New Token form again with what was typed. An
// htmx answer goes to the form itself (htmx swaps only 2xx answers, and
// retargeting keeps a token shown above the form on screen).
func (h *Handlers) tokenFormAgain(typed string) formAnswer {
	return func(c *gin.Context, status int, errs models.FieldErrors) {
		form := views.TokenForm{Open: true, Name: typed, Error: errs["name"]}
		if form.Error == "" {
			form.Error = errs[""]
		}
		if isHTMX(c) {
			htmx.Retarget(c.Writer, "#token-form", "outerHTML")
			h.render(c, http.StatusOK, views.TokenFormView(form))
			return
		}
		if err := h.showTokens(c, status, form); err != nil {
			h.answerError(c, err)
		}
	}
}

// tokenPage is GET /api-tokens/{id}: one token in full, where the copy link
// leads when JavaScript is off.
func (h *Handlers) tokenPage(c *gin.Context) error {
	t, err := h.myToken(c)
	if err != nil {
		return err
	}
	noStore(c)
	h.render(c, http.StatusOK, views.TokenPageView(*t, h.now()))
	return nil
}

// tokenSecret is GET /api-tokens/{id}/secret: the full token, as plain
// text, for the list's Copy button, which fetches the one token a person
// copies instead of the page carrying them all. Only the owner gets it
// (another's is 404, like a missing one), and it is never cached, logged,
// or readable by another origin.
func (h *Handlers) tokenSecret(c *gin.Context) error {
	t, err := h.myToken(c)
	if err != nil {
		return err
	}
	noStore(c)
	if t.Plaintext == "" {
		h.log.Warn("API token cannot be decrypted; was server.encrypt changed?", "token_id", t.ID)
		return &problem{status: http.StatusConflict, msg: "This token cannot be copied: the server's encryption key changed since it was created. It still works; create a new token if you need to copy one."}
	}
	c.Header("Cross-Origin-Resource-Policy", "same-origin")
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(t.Plaintext))
	return nil
}

// myToken is the caller's token that the {id} path parameter names,
// decrypted.
func (h *Handlers) myToken(c *gin.Context) (*models.RevealedToken, error) {
	id, err := pathID(c)
	if err != nil {
		return nil, errNoSuchToken
	}
	ctx := c.Request.Context()
	t, err := models.RevealToken(ctx, h.db, h.vault, webctx.Identity(ctx).ID, id)
	return t, tokenLookup(err)
}

// confirmDeleteToken is GET /api-tokens/{id}/delete: the question the
// dialog asks, as a page for browsers without JavaScript.
func (h *Handlers) confirmDeleteToken(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return errNoSuchToken
	}
	ctx := c.Request.Context()
	t, err := models.TokenByOwner(ctx, h.db, webctx.Identity(ctx).ID, id)
	if err := tokenLookup(err); err != nil {
		return err
	}
	h.render(c, http.StatusOK, views.TokenDeletePage(*t))
	return nil
}

// deleteToken is DELETE /api/tokens/{id}, DELETE /api-tokens/{id} from
// htmx (the list then fetches its page again: see tokensChanged) and POST
// /api-tokens/{id}/delete from the form without JavaScript. A token that is
// not the caller's is 404, like a missing one.
func (h *Handlers) deleteToken(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return errNoSuchToken
	}
	ctx := c.Request.Context()
	me := webctx.Identity(ctx)
	t, err := models.DeleteToken(ctx, h.db, me.ID, id)
	if err := tokenLookup(err); err != nil {
		return err
	}
	h.log.Info("API token deleted", "user_id", me.ID, "token_id", t.ID)
	if isHTMX(c) {
		htmx.Trigger(c.Writer, tokensChanged)
	}
	return h.deleted(c, t.ID, fmt.Sprintf("Deleted the token “%s”.", t.Name), "/api-tokens")
}

// errNoSuchToken is the answer for a token that is not the caller's or not
// there: the two look the same.
var errNoSuchToken = notFoundError("There is no such token among yours. It may have been deleted, or expired after 14 days unused.")

// tokenLookup is err with ErrNotFound told as errNoSuchToken.
func tokenLookup(err error) error {
	if errors.Is(err, models.ErrNotFound) {
		return errNoSuchToken
	}
	return failed("load the token", err)
}

// newTokenJSON leaves Token empty: only the answer to a create sets it.
func newTokenJSON(t *models.Token) api.Token {
	out := api.Token{
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
