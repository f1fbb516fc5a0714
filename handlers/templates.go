package handlers

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"

	"github.com/a-h/templ"
	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/api"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/views"
	"github.com/knot-dev/knot/webctx"
)

// maxTemplateFormBytes: see maxTemplateBytes.
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

// templates lists templates: for everyone, the active ones available in
// this zone; managers also see inactive ones and may ask for all zones.
// The API gets JSON (cached until a change), a browser the page, htmx (the
// search box) just the list.
func (h *Handlers) templates(c *gin.Context) error {
	manager := webctx.Identity(c.Request.Context()).Can(models.PermManageTemplates)
	if isAPI(c) && c.Query("all_zones") == "true" && !manager {
		return forbidden("all_zones=true needs the manage_templates permission; leave it out to list the templates of this zone.")
	}
	f := h.templateFilter(c)
	if isAPI(c) {
		body, err := h.templateLists.get(c.Request.Context(), f, func() (any, error) {
			list, err := models.ListTemplates(c.Request.Context(), h.db, f)
			return mapSlice(list, toTemplateJSON), err
		})
		if err != nil {
			return failed("list templates", err)
		}
		c.Data(http.StatusOK, "application/json; charset=utf-8", body)
		return nil
	}
	list, err := models.ListTemplates(c.Request.Context(), h.db, f)
	if err != nil {
		return failed("list templates", err)
	}
	d := views.TemplateListData{
		Templates: list, Zone: f.Zone, Query: strings.TrimSpace(f.Query), AllZones: f.AllZones, Manager: manager,
	}
	if !isHTMX(c) {
		d.Notice = h.popNotice(c)
	}
	return h.page(c, views.TemplateList(d), views.TemplatesPage(d))
}

// template answers one template as JSON. To anyone without
// manage_templates, a template that is inactive or hidden in this zone does
// not exist.
func (h *Handlers) template(c *gin.Context) error {
	t, err := h.visibleTemplate(c)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, toTemplateJSON(t))
	return nil
}

// visibleTemplate loads the template the path names, as the signed-in
// user may see it; the preview shares the rule.
func (h *Handlers) visibleTemplate(c *gin.Context) (*models.Template, error) {
	id, err := pathID(c)
	if err != nil {
		return nil, err
	}
	var t *models.Template
	if wantsCluster(c) {
		// A leaf's copy of an origin template: its id is the origin's.
		t, err = models.ClusterTemplateByID(c.Request.Context(), h.db, id)
	} else {
		t, err = models.TemplateByID(c.Request.Context(), h.db, id)
	}
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		return nil, failed("load the template", err)
	}
	manager := webctx.Identity(c.Request.Context()).Can(models.PermManageTemplates)
	if err != nil || !manager && (!t.Active || !t.AvailableIn(h.cfg.ZoneName())) {
		return nil, notFoundError(fmt.Sprintf("There is no template %d in this zone.", id))
	}
	return t, nil
}

func (h *Handlers) templateNewPage(c *gin.Context) {
	h.render(c, http.StatusOK, views.TemplateFormPage(views.TemplateForm{Active: true}))
}

func (h *Handlers) templateEditPage(c *gin.Context) error {
	t, err := byPath(h, c, "template", models.TemplateByID)
	if err != nil {
		return err
	}
	h.render(c, http.StatusOK, views.TemplateFormPage(views.TemplateForm{
		ID: t.ID, Name: t.Name, Description: t.Description, Zones: strings.Join(t.Zones, "\n"), Active: t.Active, Body: t.Body,
	}))
	return nil
}

// templateInput is a template as a form or a JSON body sends it. Absent
// fields are nil: a create fills in defaults, an update keeps the current
// values (a form always sends every field). The read-only fields of
// api.Template are accepted and ignored, so that a script can send back
// what it fetched; any other unknown field is refused as a likely typo.
type templateInput struct {
	Name        *string   `json:"name"`
	Description *string   `json:"description"`
	Zones       *[]string `json:"zones"`
	Active      *bool     `json:"active"`
	Body        *string   `json:"body"`

	readOnlyFields

	// zones is the form's zones box, as typed.
	zones zonesBox
}

func (in *templateInput) fromForm(f url.Values) {
	name, description, body := f.Get("name"), f.Get("description"), f.Get("body")
	active := f.Get("active") == "true"
	in.Name, in.Description, in.Body, in.Active = &name, &description, &body, &active
	in.Zones = in.zones.read(f.Get("zones"))
}

// over lays the fields present in the input over cur. A zones box that did
// not parse is reported with the other fields' problems, in one round trip.
func (in *templateInput) over(cur models.TemplateInput) (models.TemplateInput, error) {
	overlay(&cur.Name, in.Name)
	overlay(&cur.Description, in.Description)
	overlay(&cur.Zones, in.Zones)
	overlay(&cur.Active, in.Active)
	overlay(&cur.Body, in.Body)
	if problems := in.zones.problems(); len(problems) > 0 {
		errs := cur.Validate()
		maps.Copy(errs, problems)
		return cur, errs
	}
	return cur, nil
}

// form is the template form showing what was typed, with errs.
func (in *templateInput) form(id uint, m models.TemplateInput) func(models.FieldErrors) (templ.Component, templ.Component) {
	return func(errs models.FieldErrors) (templ.Component, templ.Component) {
		f := views.TemplateForm{
			ID: id, Name: m.Name, Description: m.Description, Zones: in.zones.text, Active: m.Active, Body: m.Body, Errors: errs,
		}
		return views.TemplateEditor(f), views.TemplateFormPage(f)
	}
}

// templateKind names templates in the answers to their changes.
var templateKind = kind[models.Template]{noun: "template", next: "/templates", describe: func(t *models.Template) (string, any, []any) {
	return fmt.Sprintf("Template “%s”", t.Name), toTemplateJSON(t), []any{"template_id", t.ID}
}}

func (h *Handlers) templateCreate(c *gin.Context) error {
	var in templateInput
	if err := bind(c, &in, maxTemplateBytes(c)); err != nil {
		return err
	}
	m, err := in.over(models.TemplateInput{Active: true})
	return save(h, c, creating, templateKind, err, h.formFor(in.form(0, m)), func() (*models.Template, error) {
		return models.CreateTemplate(c.Request.Context(), h.db, m, h.now().UTC())
	})
}

func (h *Handlers) templateUpdate(c *gin.Context) error {
	var in templateInput
	id, cur, err := toUpdate(h, c, templateToChange, &in, maxTemplateBytes(c), "template", models.TemplateByID)
	if err != nil {
		return err
	}
	m, err := in.over(models.TemplateInput{Name: cur.Name, Description: cur.Description, Zones: cur.Zones, Active: cur.Active, Body: cur.Body})
	return save(h, c, updating, templateKind, err, h.formFor(in.form(id, m)), func() (*models.Template, error) {
		return models.UpdateTemplate(c.Request.Context(), h.db, id, m, h.now().UTC())
	})
}

// templateDelete removes a template. In a browser, a template someone else
// deleted first counts as deleted: what the person wanted is true.
func (h *Handlers) templateDelete(c *gin.Context) error {
	id, err := templateToChange(c)
	if err != nil {
		return err
	}
	t, err := models.TemplateByID(c.Request.Context(), h.db, id)
	if err == nil {
		err = models.DeleteTemplate(c.Request.Context(), h.db, id)
	}
	if errors.Is(err, models.ErrNotFound) && !isAPI(c) {
		return h.deleted(c, id, "That template had already been deleted.", "/templates")
	}
	if err != nil {
		return failed("delete the template", err)
	}
	h.log.Info("template deleted", "template_id", id, "by", webctx.Identity(c.Request.Context()).ID)
	return h.deleted(c, id, fmt.Sprintf("Template “%s” deleted.", t.Name), "/templates")
}

// templateToChange is the id of the local template an update or a delete
// names. A cluster template (?source=cluster) is refused: on a leaf those
// are the origin's, read-only here.
func templateToChange(c *gin.Context) (uint, error) {
	id, err := pathID(c)
	if err != nil {
		return 0, err
	}
	return id, clusterRefused(c, "Cluster templates are read-only on a leaf; change them on the origin (needs the manage_templates permission there).")
}

// maxTemplateBytes bounds a template's body: the largest allowed definition
// fits even when every byte is escaped (three bytes each in a form, two in
// JSON), so the person gets the message beside the field, not a bare 413.
func maxTemplateBytes(c *gin.Context) int64 {
	if isAPI(c) {
		return maxJSONBytes
	}
	return maxTemplateFormBytes
}

func toTemplateJSON(t *models.Template) api.Template {
	return api.Template{
		ID: t.ID, Name: t.Name, Description: t.Description, Zones: nonNil(t.Zones), Active: t.Active, Body: t.Body,
		Source: t.SourceName(), CreatedAt: rfc3339(t.CreatedAt), UpdatedAt: rfc3339(t.UpdatedAt),
	}
}
