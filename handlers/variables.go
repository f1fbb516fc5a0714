package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/expand"
	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/views"
	"github.com/knot-dev/knot/webctx"
)

// maxVariableBodyBytes bounds a variable's API body: the value may be up to
// models.MaxVariableValueBytes, and JSON escaping can double it.
const maxVariableBodyBytes = 2*models.MaxVariableValueBytes + 16<<10

// maxVariableFormBytes fits the largest value even when every byte is
// percent-encoded, so the user gets the message beside the field.
const maxVariableFormBytes = 3*models.MaxVariableValueBytes + 16<<10

// variableFilter is what the Variables page and API list: every variable
// of this server whatever its zones (the people who manage them need to see
// them all), plus a leaf's cached cluster variables.
func (h *Handlers) variableFilter() models.VariableFilter {
	return models.VariableFilter{Zone: h.cfg.ZoneName(), AllZones: true, IncludeCluster: h.leaf != nil}
}

// wantsCluster reports whether the request is about a leaf's cached
// cluster item (?source=cluster) rather than a local one with the same id.
func wantsCluster(c *gin.Context) bool { return c.Query("source") == models.SourceCluster }

// ---- Pages. ----

func (h *Handlers) variablesPage(c *gin.Context) {
	list, err := models.ListVariables(c.Request.Context(), h.db, h.vault, h.variableFilter())
	if err != nil {
		h.serverError(c, "list variables", err)
		return
	}
	h.render(c, http.StatusOK, views.VariablesPage(views.VariableListData{
		Variables: list, Zone: h.cfg.ZoneName(), Leaf: h.leaf != nil, Notice: h.popNotice(c),
	}))
}

func (h *Handlers) variableNewPage(c *gin.Context) {
	h.render(c, http.StatusOK, views.VariableFormPage(views.VariableForm{}))
}

func (h *Handlers) variableEditPage(c *gin.Context) {
	id, ok := h.pathID(c)
	if !ok {
		return
	}
	// Not revealed: the edit form never carries a protected value; leaving
	// the field empty keeps it.
	v, err := models.VariableByID(c.Request.Context(), h.db, h.vault, id, false)
	if errors.Is(err, models.ErrNotFound) {
		h.notFound(c)
		return
	}
	if err != nil {
		h.serverError(c, "load the variable", err)
		return
	}
	h.render(c, http.StatusOK, views.VariableFormPage(views.VariableForm{
		ID: v.ID, Name: v.Name, Value: v.Value, Zones: strings.Join(v.Zones, "\n"),
		Protected: v.Protected, Restricted: v.Restricted, WasProtected: v.Protected,
	}))
}

// variableFromForm reads the form into what the page re-shows and the
// input for the model. For a protected variable being edited, an empty
// value field means "keep the current value", which is filled in here.
func (h *Handlers) variableFromForm(c *gin.Context, id uint) (views.VariableForm, models.VariableInput, models.FieldErrors, error) {
	f := views.VariableForm{
		ID:         id,
		Name:       c.PostForm("name"),
		Value:      c.PostForm("value"),
		Zones:      c.PostForm("zones"),
		Protected:  c.PostForm("protected") == "true",
		Restricted: c.PostForm("restricted") == "true",
	}
	in := models.VariableInput{Name: f.Name, Value: f.Value, Protected: f.Protected, Restricted: f.Restricted}
	if id != 0 {
		cur, err := models.VariableByID(c.Request.Context(), h.db, h.vault, id, false)
		if err != nil {
			return f, in, nil, err
		}
		f.WasProtected = cur.Protected
		if cur.Protected && f.Value == "" {
			if !f.Protected {
				// Carrying the secret forward here would store it in plain
				// text: un-protecting takes the value typed again.
				errs := in.Validate()
				errs["value"] = "To stop protecting this variable, type its value again."
				return f, in, errs, nil
			}
			cur, err = models.VariableByID(c.Request.Context(), h.db, h.vault, id, true)
			if err != nil {
				return f, in, nil, err
			}
			in.Value = cur.Value
		}
	}
	zones, msg := models.ParseZones(f.Zones)
	if msg != "" {
		errs := in.Validate()
		errs["zones"] = msg
		return f, in, errs, nil
	}
	in.Zones = zones
	return f, in, nil, nil
}

func (h *Handlers) variableCreate(c *gin.Context) {
	if !h.parseForm(c, maxVariableFormBytes) {
		return
	}
	f, in, errs, err := h.variableFromForm(c, 0)
	var v *models.Variable
	if err == nil && errs == nil {
		v, err = models.CreateVariable(c.Request.Context(), h.db, h.vault, in, h.now().UTC())
	}
	if h.variableFormProblem(c, f, errs, err) {
		return
	}
	h.log.Info("variable created", "variable_id", v.ID, "protected", v.Protected, "by", webctx.Identity(c.Request.Context()).ID)
	h.setNotice(c, fmt.Sprintf("Variable “%s” created.", v.Name))
	h.redirect(c, "/variables")
}

func (h *Handlers) variableUpdate(c *gin.Context) {
	id, ok := h.pathID(c)
	if !ok || !h.parseForm(c, maxVariableFormBytes) {
		return
	}
	f, in, errs, err := h.variableFromForm(c, id)
	var v *models.Variable
	if err == nil && errs == nil {
		v, err = models.UpdateVariable(c.Request.Context(), h.db, h.vault, id, in, h.now().UTC())
	}
	if h.variableFormProblem(c, f, errs, err) {
		return
	}
	h.log.Info("variable updated", "variable_id", v.ID, "protected", v.Protected, "by", webctx.Identity(c.Request.Context()).ID)
	h.setNotice(c, fmt.Sprintf("Variable “%s” saved.", v.Name))
	h.redirect(c, "/variables")
}

// variableFormProblem re-shows the form with its messages when parsing or
// the model refused, answers other errors, and reports whether it answered.
func (h *Handlers) variableFormProblem(c *gin.Context, f views.VariableForm, errs models.FieldErrors, err error) bool {
	status := http.StatusUnprocessableEntity
	switch {
	case errs != nil:
	case err == nil:
		return false
	case errors.Is(err, models.ErrNotFound):
		h.notFound(c)
		return true
	default:
		var ok bool
		if errs, status, ok = formErrors(err); !ok {
			h.serverError(c, "save the variable", err)
			return true
		}
	}
	f.Errors = errs
	if f.Protected || f.WasProtected {
		// A protected value typed into a form that failed is not echoed
		// back into the page; the message says to type it again.
		if f.Value != "" && errs["value"] == "" {
			errs["value"] = "Type the protected value again: it is not sent back to the browser."
		}
		f.Value = ""
	}
	h.renderForm(c, status, views.VariableEditor(f), views.VariableFormPage(f))
	return true
}

// variableDelete removes a variable; htmx gets 200 with an empty body so
// the row disappears.
func (h *Handlers) variableDelete(c *gin.Context) {
	id, ok := h.pathID(c)
	if !ok {
		return
	}
	v, err := models.VariableByID(c.Request.Context(), h.db, h.vault, id, false)
	if err == nil {
		err = models.DeleteVariable(c.Request.Context(), h.db, id)
	}
	switch {
	case errors.Is(err, models.ErrNotFound):
		if isHTMX(c) {
			c.Status(http.StatusOK)
			return
		}
		h.setNotice(c, "That variable had already been deleted.")
		h.redirect(c, "/variables")
		return
	case err != nil:
		h.serverError(c, "delete the variable", err)
		return
	}
	h.log.Info("variable deleted", "variable_id", id, "by", webctx.Identity(c.Request.Context()).ID)
	if isHTMX(c) {
		c.Status(http.StatusOK)
		return
	}
	h.setNotice(c, fmt.Sprintf("Variable “%s” deleted.", v.Name))
	h.redirect(c, "/variables")
}

// variableReveal shows one protected value on explicit request: the htmx
// fragment replaces the masked cell; without htmx it is a small page.
func (h *Handlers) variableReveal(c *gin.Context) {
	v, ok := h.loadVariable(c, true)
	if !ok {
		return
	}
	noStore(c)
	h.log.Info("protected variable revealed", "variable_id", v.ID, "source", v.Source, "by", webctx.Identity(c.Request.Context()).ID)
	if isHTMX(c) {
		h.render(c, http.StatusOK, views.VariableValue(*v))
		return
	}
	h.render(c, http.StatusOK, views.VariableRevealPage(*v))
}

// loadVariable reads the variable the path and ?source= name, answering
// 404 itself.
func (h *Handlers) loadVariable(c *gin.Context, reveal bool) (*models.Variable, bool) {
	id, ok := h.pathID(c)
	if !ok {
		return nil, false
	}
	var v *models.Variable
	var err error
	if wantsCluster(c) && h.leaf != nil {
		v, err = models.ClusterVariableByID(c.Request.Context(), h.db, h.vault, id, reveal)
	} else {
		v, err = models.VariableByID(c.Request.Context(), h.db, h.vault, id, reveal)
	}
	if errors.Is(err, models.ErrNotFound) {
		h.fail(c, http.StatusNotFound, fmt.Sprintf("There is no variable %d; it may have been deleted.", id))
		return nil, false
	}
	if err != nil {
		h.serverError(c, "load the variable", err)
		return nil, false
	}
	return v, true
}

// ---- API. ----

// variableJSON is the API shape of a variable. Value is null for a
// protected variable unless revealed.
type variableJSON struct {
	ID               uint     `json:"id"`
	Name             string   `json:"name"`
	Value            *string  `json:"value"`
	Zones            []string `json:"zones"`
	Protected        bool     `json:"protected"`
	Restricted       bool     `json:"restricted"`
	Source           string   `json:"source"`
	OverridesCluster bool     `json:"overrides_cluster"`
	OverriddenBy     *string  `json:"overridden_by"`
	CreatedAt        string   `json:"created_at"`
	UpdatedAt        string   `json:"updated_at"`
}

func toVariableJSON(v *models.Variable) variableJSON {
	zones := []string(v.Zones)
	if zones == nil {
		zones = []string{}
	}
	out := variableJSON{
		ID: v.ID, Name: v.Name, Zones: zones, Protected: v.Protected, Restricted: v.Restricted, Source: v.Source,
		OverridesCluster: v.Overrides, CreatedAt: rfc3339(v.CreatedAt), UpdatedAt: rfc3339(v.UpdatedAt),
	}
	if !v.Protected || v.Revealed {
		val := v.Value
		out.Value = &val
	}
	if v.Overridden {
		local := models.SourceLocal
		out.OverriddenBy = &local
	}
	return out
}

// variableRequest is the body of POST and PUT. Absent fields are nil: POST
// fills in defaults, PUT keeps the current values (a protected value
// included). Read-only fields are accepted and ignored so a script can send
// back what it fetched; any other unknown field is refused as a likely typo.
type variableRequest struct {
	Name       *string   `json:"name"`
	Value      *string   `json:"value"`
	Zones      *[]string `json:"zones"`
	Protected  *bool     `json:"protected"`
	Restricted *bool     `json:"restricted"`

	ID               json.RawMessage `json:"id"`
	Source           json.RawMessage `json:"source"`
	OverridesCluster json.RawMessage `json:"overrides_cluster"`
	OverriddenBy     json.RawMessage `json:"overridden_by"`
	CreatedAt        json.RawMessage `json:"created_at"`
	UpdatedAt        json.RawMessage `json:"updated_at"`
}

func (r *variableRequest) apply(in *models.VariableInput) {
	overlay(&in.Name, r.Name)
	overlay(&in.Value, r.Value)
	overlay(&in.Zones, r.Zones)
	overlay(&in.Protected, r.Protected)
	overlay(&in.Restricted, r.Restricted)
}

func (h *Handlers) apiVariables(c *gin.Context) {
	list, err := models.ListVariables(c.Request.Context(), h.db, h.vault, h.variableFilter())
	if err != nil {
		h.serverError(c, "list variables", err)
		return
	}
	out := make([]variableJSON, len(list))
	for i := range list {
		out[i] = toVariableJSON(&list[i])
	}
	c.JSON(http.StatusOK, out)
}

// apiVariable returns one variable; ?reveal=true includes a protected value.
func (h *Handlers) apiVariable(c *gin.Context) {
	reveal := c.Query("reveal") == "true"
	v, ok := h.loadVariable(c, reveal)
	if !ok {
		return
	}
	if reveal {
		noStore(c)
		if v.Protected {
			h.log.Info("protected variable revealed", "variable_id", v.ID, "source", v.Source, "by", webctx.Identity(c.Request.Context()).ID)
		}
	}
	c.JSON(http.StatusOK, toVariableJSON(v))
}

// refuseCluster answers a change aimed at a cached cluster variable.
func (h *Handlers) refuseCluster(c *gin.Context) bool {
	if !wantsCluster(c) {
		return false
	}
	h.fail(c, http.StatusForbidden, "Cluster variables are read-only on a leaf; change them on the origin, or create a local variable with the same name to override it here.")
	return true
}

func (h *Handlers) apiVariableCreate(c *gin.Context) {
	if h.refuseCluster(c) {
		return
	}
	var req variableRequest
	if !h.decodeJSON(c, &req, maxVariableBodyBytes) {
		return
	}
	var in models.VariableInput
	req.apply(&in)
	v, err := models.CreateVariable(c.Request.Context(), h.db, h.vault, in, h.now().UTC())
	if err != nil {
		if !h.apiRefusal(c, err) {
			h.serverError(c, "create the variable", err)
		}
		return
	}
	h.log.Info("variable created", "variable_id", v.ID, "protected", v.Protected, "by", webctx.Identity(c.Request.Context()).ID)
	c.JSON(http.StatusCreated, toVariableJSON(v))
}

func (h *Handlers) apiVariableUpdate(c *gin.Context) {
	if h.refuseCluster(c) {
		return
	}
	id, ok := h.pathID(c)
	if !ok {
		return
	}
	var req variableRequest
	if !h.decodeJSON(c, &req, maxVariableBodyBytes) {
		return
	}
	// Revealed so that a PUT without "value" keeps a protected value.
	cur, err := models.VariableByID(c.Request.Context(), h.db, h.vault, id, true)
	if err != nil {
		if !h.apiRefusal(c, err) {
			h.serverError(c, "load the variable", err)
		}
		return
	}
	in := models.VariableInput{Name: cur.Name, Value: cur.Value, Zones: cur.Zones, Protected: cur.Protected, Restricted: cur.Restricted}
	req.apply(&in)
	v, err := models.UpdateVariable(c.Request.Context(), h.db, h.vault, id, in, h.now().UTC())
	if err != nil {
		if !h.apiRefusal(c, err) {
			h.serverError(c, "update the variable", err)
		}
		return
	}
	h.log.Info("variable updated", "variable_id", v.ID, "protected", v.Protected, "by", webctx.Identity(c.Request.Context()).ID)
	c.JSON(http.StatusOK, toVariableJSON(v))
}

func (h *Handlers) apiVariableDelete(c *gin.Context) {
	if h.refuseCluster(c) {
		return
	}
	id, ok := h.pathID(c)
	if !ok {
		return
	}
	if err := models.DeleteVariable(c.Request.Context(), h.db, id); err != nil {
		if !h.apiRefusal(c, err) {
			h.serverError(c, "delete the variable", err)
		}
		return
	}
	h.log.Info("variable deleted", "variable_id", id, "by", webctx.Identity(c.Request.Context()).ID)
	c.JSON(http.StatusOK, gin.H{"id": id, "deleted": true})
}

// ---- Origin side of leaf mode. ----

// leafTemplateVars sends leaves the variables whose zones allow a leaf and
// that are not restricted, with protected values in plain text: this
// answer only travels over the leaf's verified TLS link, and the leaf seals
// them under its own key. no-store keeps it out of every cache.
// Protected values reach a leaf only when all of these hold: the token's
// owner may read them here (manage_variables), this origin serves HTTPS,
// the leaf verifies the origin's certificate (it asks with protected=false
// when it does not), and the token belongs to a registered leaf — one that
// said hello with it, as the leaf client always does first. So a script
// holding a manager's token cannot pull every secret in one request.
// Otherwise protected variables are left out of the answer. Each hand-over
// is logged like a reveal: who, which leaf, which variables — never the
// values.
func (h *Handlers) leafTemplateVars(c *gin.Context) {
	ctx := c.Request.Context()
	id := webctx.Identity(ctx)
	sendProtected := id.Can(models.PermManageVariables) &&
		(c.Request.TLS != nil || strings.HasPrefix(h.cfg.Server.URL, "https://")) &&
		c.Query("protected") != "false"
	var node *models.LeafNode
	if sendProtected {
		var err error
		node, err = models.LeafNodeByToken(ctx, h.db, id.TokenID)
		switch {
		case errors.Is(err, models.ErrNotFound):
			sendProtected = false
		case err != nil:
			h.serverError(c, "check that the leaf is registered", err)
			return
		}
	}
	list, err := models.ListVariables(ctx, h.db, h.vault, models.VariableFilter{Zone: config.LeafZone, Reveal: sendProtected})
	if err != nil {
		h.serverError(c, "list variables for a leaf", err)
		return
	}
	out := make([]leaf.Variable, 0, len(list))
	var protected []string
	for _, v := range list {
		if v.Restricted || v.Protected && !sendProtected {
			continue
		}
		zones := []string(v.Zones)
		if zones == nil {
			zones = []string{}
		}
		out = append(out, leaf.Variable{ID: v.ID, Name: v.Name, Value: v.Value, Zones: zones, Protected: v.Protected, UpdatedAt: v.UpdatedAt.UTC()})
		if v.Protected {
			protected = append(protected, v.Name)
		}
	}
	noStore(c)
	// A 304 hands nothing over; the leaf already holds those values.
	if h.jsonWithETag(c, out) && len(protected) > 0 {
		h.log.Info("protected variables sent to a leaf", "by", id.ID, "username", id.Username,
			"token_id", id.TokenID, "leaf_url", node.LeafURL, "variables", protected)
	}
}

// ---- Template preview. ----

// previewJSON is the API answer of a template preview.
type previewJSON struct {
	ID       uint          `json:"id"`
	Name     string        `json:"name"`
	Source   string        `json:"source"`
	Zone     string        `json:"zone"`
	Body     string        `json:"body"`
	Problems []problemJSON `json:"problems"`
}

type problemJSON struct {
	Line    int    `json:"line"`
	Name    string `json:"name,omitempty"`
	Message string `json:"message"`
}

// preview loads the template the path names (?source=cluster for a leaf's
// cached one) as the user may see it, and fills in this zone's variables
// with protected values masked. It answers 404 itself.
func (h *Handlers) preview(c *gin.Context) (*models.Template, string, []expand.Problem, bool) {
	id, ok := h.pathID(c)
	if !ok {
		return nil, "", nil, false
	}
	var t *models.Template
	var err error
	if wantsCluster(c) && h.leaf != nil {
		t, err = models.ClusterTemplateByID(c.Request.Context(), h.db, id)
	} else {
		t, err = models.TemplateByID(c.Request.Context(), h.db, id)
	}
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		h.serverError(c, "load the template", err)
		return nil, "", nil, false
	}
	// Whoever can see the template may preview it: the same rule as
	// GET /api/templates/{id}.
	manager := webctx.Identity(c.Request.Context()).Can(models.PermManageTemplates)
	if err != nil || !manager && (!t.Active || !t.AvailableIn(h.cfg.ZoneName())) {
		h.fail(c, http.StatusNotFound, fmt.Sprintf("There is no template %d in this zone.", id))
		return nil, "", nil, false
	}
	lookup, err := models.PreviewLookup(c.Request.Context(), h.db, h.cfg.ZoneName(), h.leaf != nil)
	if err != nil {
		h.serverError(c, "load the variables for the preview", err)
		return nil, "", nil, false
	}
	body, problems := expand.Body(t.Body, lookup)
	return t, body, problems, true
}

func (h *Handlers) templatePreviewPage(c *gin.Context) {
	t, body, problems, ok := h.preview(c)
	if !ok {
		return
	}
	h.render(c, http.StatusOK, views.TemplatePreviewPage(views.TemplatePreview{
		Template: *t, Body: body, Problems: problems, Zone: h.cfg.ZoneName(),
	}))
}

func (h *Handlers) apiTemplatePreview(c *gin.Context) {
	t, body, problems, ok := h.preview(c)
	if !ok {
		return
	}
	out := previewJSON{ID: t.ID, Name: t.Name, Source: t.SourceName(), Zone: h.cfg.ZoneName(), Body: body, Problems: []problemJSON{}}
	for _, p := range problems {
		out.Problems = append(out.Problems, problemJSON{Line: p.Line, Name: p.Name, Message: p.String()})
	}
	c.JSON(http.StatusOK, out)
}
