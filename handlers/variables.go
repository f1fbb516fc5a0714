package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"

	"github.com/a-h/templ"
	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/knot-dev/knot/api"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/views"
	"github.com/knot-dev/knot/webctx"
)

// clusterVariablesReadOnly is the refusal of a change to a leaf's cached
// copy of an origin variable.
const clusterVariablesReadOnly = "Cluster variables are read-only on a leaf; change them on the origin, or create a local variable with the same name to override it here."

// variableFilter is what the Variables page and API list: every variable
// of this server whatever its zones (the people who manage them need to see
// them all), plus a leaf's cached cluster variables.
func (h *Handlers) variableFilter() models.VariableFilter {
	return models.VariableFilter{Zone: h.cfg.ZoneName(), AllZones: true, IncludeCluster: h.leaf != nil}
}

// variables lists the variables: JSON for the API, the page for a browser.
func (h *Handlers) variables(c *gin.Context) error {
	list, err := models.ListVariables(c.Request.Context(), h.db, h.vault, h.variableFilter())
	return listed(h, c, "list variables", list, err, toVariableJSON, func(notice string) templ.Component {
		return views.VariablesPage(views.VariableListData{Variables: list, Zone: h.cfg.ZoneName(), Leaf: h.leaf != nil, Notice: notice})
	})
}

// variable answers one variable. The API gives JSON, with a protected
// value only on ?reveal=true; the page's Reveal button always asks for it:
// htmx swaps the value into the masked cell, without htmx it is a small
// page.
func (h *Handlers) variable(c *gin.Context) error {
	reveal := !isAPI(c) || c.Query("reveal") == "true"
	v, err := h.loadVariable(c, reveal)
	if err != nil {
		return err
	}
	if reveal {
		noStore(c)
		if v.Protected {
			h.log.Info("protected variable revealed", "variable_id", v.ID, "source", v.Source, "by", webctx.Identity(c.Request.Context()).ID)
		}
	}
	return h.answer(c, func() any { return toVariableJSON(v) }, views.VariableValue(*v), views.VariableRevealPage(*v))
}

// loadVariable reads the variable the path and ?source= name.
func (h *Handlers) loadVariable(c *gin.Context, reveal bool) (*models.Variable, error) {
	id, err := pathID(c)
	if err != nil {
		return nil, err
	}
	var v *models.Variable
	if wantsCluster(c) && h.leaf != nil {
		v, err = models.ClusterVariableByID(c.Request.Context(), h.db, h.vault, id, reveal)
	} else {
		v, err = models.VariableByID(c.Request.Context(), h.db, h.vault, id, reveal)
	}
	if errors.Is(err, models.ErrNotFound) {
		return nil, notFoundError(fmt.Sprintf("There is no variable %d; it may have been deleted.", id))
	}
	return v, failed("load the variable", err)
}

func (h *Handlers) variableNewPage(c *gin.Context) {
	h.render(c, http.StatusOK, views.VariableFormPage(views.VariableForm{}))
}

// variableByID loads a local variable by id for byPath and toUpdate, its
// protected value revealed or not.
func (h *Handlers) variableByID(reveal bool) func(context.Context, *gorm.DB, uint) (*models.Variable, error) {
	return func(ctx context.Context, db *gorm.DB, id uint) (*models.Variable, error) {
		return models.VariableByID(ctx, db, h.vault, id, reveal)
	}
}

func (h *Handlers) variableEditPage(c *gin.Context) error {
	// Not revealed: the edit form never carries a protected value; leaving
	// the field empty keeps it.
	v, err := byPath(h, c, "variable", h.variableByID(false))
	if err != nil {
		return err
	}
	h.render(c, http.StatusOK, views.VariableFormPage(views.VariableForm{
		ID: v.ID, Name: v.Name, Value: v.Value, Zones: strings.Join(v.Zones, "\n"),
		Protected: v.Protected, Restricted: v.Restricted, WasProtected: v.Protected,
	}))
	return nil
}

// variableKind names variables in the answers to their changes.
var variableKind = kind[models.Variable]{noun: "variable", next: "/variables", describe: func(v *models.Variable) (string, any, []any) {
	return fmt.Sprintf("Variable “%s”", v.Name), toVariableJSON(v), []any{"variable_id", v.ID, "protected", v.Protected}
}}

func (h *Handlers) variableCreate(c *gin.Context) error {
	if err := clusterRefused(c, clusterVariablesReadOnly); err != nil {
		return err
	}
	var in variableInput
	if err := bind(c, &in, maxVariableBytes(c)); err != nil {
		return err
	}
	m, err := in.over(models.VariableInput{})
	return save(h, c, creating, variableKind, err, h.formFor(in.form(0, false, m)), func() (*models.Variable, error) {
		return models.CreateVariable(c.Request.Context(), h.db, h.vault, m, h.now().UTC())
	})
}

func (h *Handlers) variableUpdate(c *gin.Context) error {
	var in variableInput
	// Revealed, so that a value left out keeps a protected one.
	id, cur, err := toUpdate(h, c, h.variableToChange, &in, maxVariableBytes(c), "variable", h.variableByID(true))
	if err != nil {
		return err
	}
	m, err := in.over(models.VariableInput{Name: cur.Name, Value: cur.Value, Zones: cur.Zones, Protected: cur.Protected, Restricted: cur.Restricted})
	return save(h, c, updating, variableKind, err, h.formFor(in.form(id, cur.Protected, m)), func() (*models.Variable, error) {
		return models.UpdateVariable(c.Request.Context(), h.db, h.vault, id, m, h.now().UTC())
	})
}

// variableDelete removes a variable. In a browser, a variable someone else
// deleted first counts as deleted: what the person wanted is true.
func (h *Handlers) variableDelete(c *gin.Context) error {
	id, err := h.variableToChange(c)
	if err != nil {
		return err
	}
	v, err := models.VariableByID(c.Request.Context(), h.db, h.vault, id, false)
	if err == nil {
		err = models.DeleteVariable(c.Request.Context(), h.db, id)
	}
	switch {
	case errors.Is(err, models.ErrNotFound) && !isAPI(c):
		return h.deleted(c, id, "That variable had already been deleted.", "/variables")
	case err != nil:
		return failed("delete the variable", err)
	}
	h.log.Info("variable deleted", "variable_id", id, "by", webctx.Identity(c.Request.Context()).ID)
	return h.deleted(c, id, fmt.Sprintf("Variable “%s” deleted.", v.Name), "/variables")
}

// variableToChange is the id of the local variable an update or a delete
// names; a leaf's cluster variables are the origin's to change.
func (h *Handlers) variableToChange(c *gin.Context) (uint, error) {
	if err := clusterRefused(c, clusterVariablesReadOnly); err != nil {
		return 0, err
	}
	return pathID(c)
}

// maxVariableBytes bounds a variable's body: the largest value fits even
// when every byte is escaped (three bytes each in a form, two in JSON), so
// the person gets the message beside the field, not a bare 413.
func maxVariableBytes(c *gin.Context) int64 {
	if isAPI(c) {
		return 2*models.MaxVariableValueBytes + 16<<10
	}
	return 3*models.MaxVariableValueBytes + 16<<10
}

// variableInput is one input for the form and the JSON body. A field the
// body leaves out (or sends as null) is nil and keeps its current value on
// an update, a protected value included. A script may send back what it
// fetched: api.Variable's read-only fields are taken and dropped, while an
// unknown field is refused, as it is most likely misspelt.
type variableInput struct {
	Name       *string   `json:"name"`
	Value      *string   `json:"value"`
	Zones      *[]string `json:"zones"`
	Protected  *bool     `json:"protected"`
	Restricted *bool     `json:"restricted"`

	readOnlyFields
	OverridesCluster json.RawMessage `json:"overrides_cluster"`
	OverriddenBy     json.RawMessage `json:"overridden_by"`

	zones zonesBox
	// blankKeeps: the form never carries a protected value, so its empty
	// value box means "keep it" where a JSON "" means an empty value.
	blankKeeps bool
}

func (in *variableInput) fromForm(f url.Values) {
	name, value := f.Get("name"), f.Get("value")
	protected, restricted := f.Get("protected") == "true", f.Get("restricted") == "true"
	in.Name, in.Value, in.Protected, in.Restricted = &name, &value, &protected, &restricted
	in.Zones = in.zones.read(f.Get("zones"))
	in.blankKeeps = true
}

// over lays the fields present in the input over cur, the variable as
// stored. An empty value box keeps a protected value only while it stays
// protected: carrying the secret forward would store it in plain text, so
// un-protecting takes the value typed again. Every field's problem comes
// back in one round trip.
func (in *variableInput) over(cur models.VariableInput) (models.VariableInput, error) {
	m := cur
	overlay(&m.Name, in.Name)
	overlay(&m.Value, in.Value)
	overlay(&m.Zones, in.Zones)
	overlay(&m.Protected, in.Protected)
	overlay(&m.Restricted, in.Restricted)
	errs := in.zones.problems()
	if in.blankKeeps && m.Value == "" && cur.Protected {
		if m.Protected {
			m.Value = cur.Value
		} else {
			errs["value"] = "To stop protecting this variable, type its value again."
		}
	}
	if len(errs) == 0 {
		return m, nil
	}
	// Validated on a copy: the form shows the name as it was typed.
	check := m
	all := check.Validate()
	maps.Copy(all, errs)
	return m, all
}

// form is the variable form showing what was typed, with errs. A protected
// value is never sent back to the browser, so a form that failed asks for
// it again.
func (in *variableInput) form(id uint, wasProtected bool, m models.VariableInput) func(models.FieldErrors) (templ.Component, templ.Component) {
	return func(errs models.FieldErrors) (templ.Component, templ.Component) {
		f := views.VariableForm{
			ID: id, Name: m.Name, Zones: in.zones.text, Protected: m.Protected, Restricted: m.Restricted,
			WasProtected: wasProtected, Errors: errs,
		}
		// What was typed: m holds the kept secret where the box was empty.
		if in.Value != nil {
			f.Value = *in.Value
		}
		if f.Protected || f.WasProtected {
			if f.Value != "" && errs["value"] == "" {
				errs["value"] = "Type the protected value again: it is not sent back to the browser."
			}
			f.Value = ""
		}
		return views.VariableEditor(f), views.VariableFormPage(f)
	}
}

func toVariableJSON(v *models.Variable) api.Variable {
	out := api.Variable{
		ID: v.ID, Name: v.Name, Zones: nonNil(v.Zones), Protected: v.Protected, Restricted: v.Restricted, Source: v.Source,
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
