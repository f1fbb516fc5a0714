package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/views"
	"github.com/knot-dev/knot/webctx"
)

// maxTemplateFormBytes fits the largest allowed definition even when every
// byte is percent-encoded (three bytes each), so the user gets the message
// beside the field rather than a bare 413.
const maxTemplateFormBytes = 3*models.MaxTemplateBodyBytes + 64<<10

// templateFilter reads ?q= and ?all_zones= for the signed-in user. Only
// template managers see inactive templates or other zones' templates.
func (h *Handlers) templateFilter(c *gin.Context) models.TemplateFilter {
	manager := webctx.Identity(c.Request.Context()).Can(models.PermManageTemplates)
	return models.TemplateFilter{
		Zone:            h.cfg.ZoneName(),
		AllZones:        manager && c.Query("all_zones") == "true",
		IncludeInactive: manager,
		Query:           c.Query("q"),
		IncludeCluster:  h.leaf != nil,
	}
}

// templatesPage is the list for everyone signed in; for htmx (the search
// box) it answers with just the list fragment.
func (h *Handlers) templatesPage(c *gin.Context) {
	manager := webctx.Identity(c.Request.Context()).Can(models.PermManageTemplates)
	f := h.templateFilter(c)
	list, err := models.ListTemplates(c.Request.Context(), h.db, f)
	if err != nil {
		h.serverError(c, "list templates", err)
		return
	}
	d := views.TemplateListData{
		Templates: list,
		Zone:      f.Zone,
		Query:     strings.TrimSpace(f.Query),
		AllZones:  f.AllZones,
		Manager:   manager,
	}
	if isHTMX(c) {
		h.render(c, http.StatusOK, views.TemplateList(d))
		return
	}
	d.Notice = h.popNotice(c)
	h.render(c, http.StatusOK, views.TemplatesPage(d))
}

func (h *Handlers) templateNewPage(c *gin.Context) {
	h.render(c, http.StatusOK, views.TemplateFormPage(views.TemplateForm{Active: true}))
}

func (h *Handlers) templateEditPage(c *gin.Context) {
	id, ok := h.pathID(c)
	if !ok {
		return
	}
	t, err := models.TemplateByID(c.Request.Context(), h.db, id)
	if errors.Is(err, models.ErrNotFound) {
		h.notFound(c)
		return
	}
	if err != nil {
		h.serverError(c, "load the template", err)
		return
	}
	h.render(c, http.StatusOK, views.TemplateFormPage(views.TemplateForm{
		ID: t.ID, Name: t.Name, Description: t.Description, Zones: strings.Join(t.Zones, "\n"), Active: t.Active, Body: t.Body,
	}))
}

// templateFromForm reads the form into what the page re-shows and, when
// the zones parse, into an input for the model.
func templateFromForm(c *gin.Context, id uint) (views.TemplateForm, models.TemplateInput, models.FieldErrors) {
	f := views.TemplateForm{
		ID:          id,
		Name:        c.PostForm("name"),
		Description: c.PostForm("description"),
		Zones:       c.PostForm("zones"),
		Active:      c.PostForm("active") == "true",
		Body:        c.PostForm("body"),
	}
	in := models.TemplateInput{Name: f.Name, Description: f.Description, Active: f.Active, Body: f.Body}
	zones, msg := models.ParseZones(f.Zones)
	if msg != "" {
		// Report the other fields' problems too, in one round trip.
		errs := in.Validate()
		errs["zones"] = msg
		return f, in, errs
	}
	in.Zones = zones
	return f, in, nil
}

func (h *Handlers) templateCreate(c *gin.Context) {
	if !h.parseForm(c, maxTemplateFormBytes) {
		return
	}
	f, in, errs := templateFromForm(c, 0)
	var err error
	var t *models.Template
	if errs == nil {
		t, err = models.CreateTemplate(c.Request.Context(), h.db, in, h.now().UTC())
	}
	if h.templateFormProblem(c, f, errs, err) {
		return
	}
	h.log.Info("template created", "template_id", t.ID, "by", webctx.Identity(c.Request.Context()).ID)
	h.setNotice(c, fmt.Sprintf("Template “%s” created.", t.Name))
	h.redirect(c, "/templates")
}

func (h *Handlers) templateUpdate(c *gin.Context) {
	id, ok := h.pathID(c)
	if !ok || !h.parseForm(c, maxTemplateFormBytes) {
		return
	}
	f, in, errs := templateFromForm(c, id)
	var err error
	var t *models.Template
	if errs == nil {
		t, err = models.UpdateTemplate(c.Request.Context(), h.db, id, in, h.now().UTC())
	}
	if h.templateFormProblem(c, f, errs, err) {
		return
	}
	h.log.Info("template updated", "template_id", t.ID, "by", webctx.Identity(c.Request.Context()).ID)
	h.setNotice(c, fmt.Sprintf("Template “%s” saved.", t.Name))
	h.redirect(c, "/templates")
}

// templateFormProblem re-shows the form with its messages when parsing or
// the model refused, answers other errors, and reports whether it answered.
func (h *Handlers) templateFormProblem(c *gin.Context, f views.TemplateForm, errs models.FieldErrors, err error) bool {
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
			h.serverError(c, "save the template", err)
			return true
		}
	}
	f.Errors = errs
	h.renderForm(c, status, views.TemplateEditor(f), views.TemplateFormPage(f))
	return true
}

// templateDelete removes a template. htmx gets 200 with an empty body so
// the row disappears; a plain form goes back to the list.
func (h *Handlers) templateDelete(c *gin.Context) {
	id, ok := h.pathID(c)
	if !ok {
		return
	}
	t, err := models.TemplateByID(c.Request.Context(), h.db, id)
	if err == nil {
		err = models.DeleteTemplate(c.Request.Context(), h.db, id)
	}
	switch {
	case errors.Is(err, models.ErrNotFound):
		// Someone else deleted it first: what the user wanted is true.
		if isHTMX(c) {
			c.Status(http.StatusOK)
			return
		}
		h.setNotice(c, "That template had already been deleted.")
		h.redirect(c, "/templates")
		return
	case err != nil:
		h.serverError(c, "delete the template", err)
		return
	}
	h.log.Info("template deleted", "template_id", id, "by", webctx.Identity(c.Request.Context()).ID)
	if isHTMX(c) {
		c.Status(http.StatusOK)
		return
	}
	h.setNotice(c, fmt.Sprintf("Template “%s” deleted.", t.Name))
	h.redirect(c, "/templates")
}

// templateJSON is the API shape of a template (README: JSON API).
type templateJSON struct {
	ID          uint     `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Zones       []string `json:"zones"`
	Active      bool     `json:"active"`
	Body        string   `json:"body"`
	Source      string   `json:"source"`
	CreatedAt   string   `json:"created_at"`
	UpdatedAt   string   `json:"updated_at"`
}

func toTemplateJSON(t *models.Template) templateJSON {
	zones := []string(t.Zones)
	if zones == nil {
		zones = []string{}
	}
	return templateJSON{
		ID: t.ID, Name: t.Name, Description: t.Description, Zones: zones, Active: t.Active, Body: t.Body,
		Source: t.SourceName(), CreatedAt: rfc3339(t.CreatedAt), UpdatedAt: rfc3339(t.UpdatedAt),
	}
}

// templateRequest is the body of POST and PUT. Absent fields are nil: POST
// fills in defaults, PUT keeps the current values. The read-only fields
// of templateJSON are accepted and ignored, so a script can send back what
// it fetched; any other unknown field is refused as a likely typo.
type templateRequest struct {
	Name        *string   `json:"name"`
	Description *string   `json:"description"`
	Zones       *[]string `json:"zones"`
	Active      *bool     `json:"active"`
	Body        *string   `json:"body"`

	ID        json.RawMessage `json:"id"`
	Source    json.RawMessage `json:"source"`
	CreatedAt json.RawMessage `json:"created_at"`
	UpdatedAt json.RawMessage `json:"updated_at"`
}

// apply overlays the fields present in r onto in.
func (r *templateRequest) apply(in *models.TemplateInput) {
	overlay(&in.Name, r.Name)
	overlay(&in.Description, r.Description)
	overlay(&in.Zones, r.Zones)
	overlay(&in.Active, r.Active)
	overlay(&in.Body, r.Body)
}

// apiTemplates lists templates: for everyone, the active ones available in
// this zone; managers also see inactive ones and may ask for all zones.
func (h *Handlers) apiTemplates(c *gin.Context) {
	if c.Query("all_zones") == "true" && !webctx.Identity(c.Request.Context()).Can(models.PermManageTemplates) {
		h.fail(c, http.StatusForbidden, "all_zones=true needs the manage_templates permission; leave it out to list the templates of this zone.")
		return
	}
	f := h.templateFilter(c)
	body, err := h.templateLists.get(c.Request.Context(), f, func() (any, error) {
		list, err := models.ListTemplates(c.Request.Context(), h.db, f)
		if err != nil {
			return nil, err
		}
		out := make([]templateJSON, len(list))
		for i := range list {
			out[i] = toTemplateJSON(&list[i])
		}
		return out, nil
	})
	if err != nil {
		h.serverError(c, "list templates", err)
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", body)
}

// apiTemplate returns one template. To anyone without manage_templates, a
// template that is inactive or hidden in this zone does not exist.
func (h *Handlers) apiTemplate(c *gin.Context) {
	id, ok := h.pathID(c)
	if !ok {
		return
	}
	var t *models.Template
	var err error
	if c.Query("source") == models.SourceCluster {
		// A leaf's copy of an origin template: its id is the origin's.
		t, err = models.ClusterTemplateByID(c.Request.Context(), h.db, id)
	} else {
		t, err = models.TemplateByID(c.Request.Context(), h.db, id)
	}
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		h.serverError(c, "load the template", err)
		return
	}
	manager := webctx.Identity(c.Request.Context()).Can(models.PermManageTemplates)
	if err != nil || !manager && (!t.Active || !t.AvailableIn(h.cfg.ZoneName())) {
		h.fail(c, http.StatusNotFound, fmt.Sprintf("There is no template %d in this zone.", id))
		return
	}
	c.JSON(http.StatusOK, toTemplateJSON(t))
}

func (h *Handlers) apiTemplateCreate(c *gin.Context) {
	var req templateRequest
	if !h.decodeJSON(c, &req, maxJSONBytes) {
		return
	}
	in := models.TemplateInput{Active: true}
	req.apply(&in)
	t, err := models.CreateTemplate(c.Request.Context(), h.db, in, h.now().UTC())
	if err != nil {
		if !h.apiRefusal(c, err) {
			h.serverError(c, "create the template", err)
		}
		return
	}
	h.log.Info("template created", "template_id", t.ID, "by", webctx.Identity(c.Request.Context()).ID)
	c.JSON(http.StatusCreated, toTemplateJSON(t))
}

// clusterTemplateRefused answers 403 for a write to a cluster template
// (?source=cluster): on a leaf those are the origin's, read-only here.
func (h *Handlers) clusterTemplateRefused(c *gin.Context) bool {
	if c.Query("source") != models.SourceCluster {
		return false
	}
	h.fail(c, http.StatusForbidden, "Cluster templates are read-only on a leaf; change them on the origin (needs the manage_templates permission there).")
	return true
}

func (h *Handlers) apiTemplateUpdate(c *gin.Context) {
	id, ok := h.pathID(c)
	if !ok || h.clusterTemplateRefused(c) {
		return
	}
	var req templateRequest
	if !h.decodeJSON(c, &req, maxJSONBytes) {
		return
	}
	cur, err := models.TemplateByID(c.Request.Context(), h.db, id)
	if err != nil {
		if !h.apiRefusal(c, err) {
			h.serverError(c, "load the template", err)
		}
		return
	}
	in := models.TemplateInput{Name: cur.Name, Description: cur.Description, Zones: cur.Zones, Active: cur.Active, Body: cur.Body}
	req.apply(&in)
	t, err := models.UpdateTemplate(c.Request.Context(), h.db, id, in, h.now().UTC())
	if err != nil {
		if !h.apiRefusal(c, err) {
			h.serverError(c, "update the template", err)
		}
		return
	}
	h.log.Info("template updated", "template_id", t.ID, "by", webctx.Identity(c.Request.Context()).ID)
	c.JSON(http.StatusOK, toTemplateJSON(t))
}

func (h *Handlers) apiTemplateDelete(c *gin.Context) {
	id, ok := h.pathID(c)
	if !ok || h.clusterTemplateRefused(c) {
		return
	}
	if err := models.DeleteTemplate(c.Request.Context(), h.db, id); err != nil {
		if !h.apiRefusal(c, err) {
			h.serverError(c, "delete the template", err)
		}
		return
	}
	h.log.Info("template deleted", "template_id", id, "by", webctx.Identity(c.Request.Context()).ID)
	c.JSON(http.StatusOK, gin.H{"id": id, "deleted": true})
}
