package handlers

import (
	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/expand"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/views"
)

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

// templatePreview fills in the template the path names with this zone's
// variables, protected values masked, and names every reference that could
// not be filled: JSON for the API, the page for a browser. Whoever can see
// the template may preview it.
func (h *Handlers) templatePreview(c *gin.Context) error {
	t, err := h.visibleTemplate(c)
	if err != nil {
		return err
	}
	lookup, err := models.PreviewLookup(c.Request.Context(), h.db, h.cfg.ZoneName(), h.leaf != nil)
	if err != nil {
		return failed("load the variables for the preview", err)
	}
	body, problems := expand.Body(t.Body, lookup)
	return h.answer(c, func() any {
		return previewJSON{
			ID: t.ID, Name: t.Name, Source: t.SourceName(), Zone: h.cfg.ZoneName(), Body: body,
			Problems: mapSlice(problems, toProblemJSON),
		}
	}, nil, views.TemplatePreviewPage(views.TemplatePreview{
		Template: *t, Body: body, Problems: problems, Zone: h.cfg.ZoneName(),
	}))
}

func toProblemJSON(p *expand.Problem) problemJSON {
	return problemJSON{Line: p.Line, Name: p.Name, Message: p.String()}
}
