package handlers_test

import (
	"net/http"
	"testing"
)

// With no leaf yet, the Leaf Nodes page says how to connect one in the
// interface's own words, with a link to where the token is made, rather
// than sending people to the README.
func TestTheEmptyLeafNodesPageSaysHowToConnectALeaf(t *testing.T) {
	cs := startCast(t)
	page := cs.admin.Get("/leaf-nodes")
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "No leaf has connected yet.", `create an API token under <a href="/api-tokens">API Tokens</a>`, "in the leaf's <code>knot.toml</code>",
		"<code>[server.origin]</code> as <code>server</code> and <code>token</code>.")
	wantNoBody(t, page, "README")
}
