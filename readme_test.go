package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/server"
)

var tomlBlock = regexp.MustCompile("(?s)```toml\n(.*?)```")

// readmeTOML returns the README's toml code blocks, without the indentation
// of blocks inside list items.
func readmeTOML(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range tomlBlock.FindAllStringSubmatch(string(b), -1) {
		lines := strings.Split(m[1], "\n")
		indent := len(lines[0]) - len(strings.TrimLeft(lines[0], " "))
		for i, l := range lines {
			if len(l) >= indent {
				lines[i] = l[indent:]
			}
		}
		out = append(out, strings.Join(lines, "\n"))
	}
	return out
}

func snippet(t *testing.T, marker string) string {
	t.Helper()
	for _, b := range readmeTOML(t) {
		if strings.Contains(b, marker) {
			return b
		}
	}
	t.Fatalf("no toml block in README.md contains %q", marker)
	return ""
}

func TestEveryTOMLSnippetInTheREADMEParses(t *testing.T) {
	blocks := readmeTOML(t)
	if len(blocks) < 2 {
		t.Fatalf("found %d toml blocks in README.md; the leaf and cluster sections have one each", len(blocks))
	}
	for _, b := range blocks {
		var v map[string]any
		if _, err := toml.Decode(b, &v); err != nil {
			t.Errorf("README snippet does not parse: %v\n%s", err, b)
		}
	}
}

// The cluster snippet is a whole knot.toml: with the key from the
// environment, as the README says, it loads without a warning.
func TestTheREADMEsClusterFileLoadsAsWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "knot.toml")
	os.WriteFile(path, []byte(snippet(t, "[server.postgres]")), 0o600)
	cfg, warnings, err := config.Load(path, []string{"KNOT_SERVER_ENCRYPT=" + server.NewKey()})
	if err != nil {
		t.Fatalf("the README's cluster knot.toml: %v", err)
	}
	if len(warnings) > 0 || !cfg.Server.Postgres.Enabled {
		t.Fatalf("the README's cluster knot.toml: warnings %v, postgres %v", warnings, cfg.Server.Postgres.Enabled)
	}
}

// Step 3 of the leaf section says to append its snippet to the repo's
// knot.toml: done exactly so, with a real origin's address and token filled
// in, it starts a leaf that connects.
func TestTheREADMEsLeafSnippetAppendedToKnotTomlStartsAWorkingLeaf(t *testing.T) {
	origin := knottest.Start(t, knottest.Config(t))
	_, token := origin.SetupAdmin().CreateAPIToken("Leaf Test")

	repoFile, err := os.ReadFile("knot.toml")
	if err != nil {
		t.Fatal(err)
	}
	leafSnippet := snippet(t, "[server.origin]")
	leafSnippet = strings.ReplaceAll(leafSnippet, "https://knot-server.internal", origin.URL)
	leafSnippet = strings.ReplaceAll(leafSnippet, "dp2IlH_wQWIA_ad_UApHjAGYLZMcvn4vsH383N-AB2I=", token)
	path := filepath.Join(t.TempDir(), "knot.toml")
	os.WriteFile(path, append(append(repoFile, '\n'), leafSnippet...), 0o600)

	// Only where the data goes differs from the file: not into the repo.
	env := []string{"KNOT_SERVER_SQLITE_PATH=" + filepath.Join(t.TempDir(), "data", "knot.db")}
	cfg, warnings, err := config.Load(path, env)
	if err != nil {
		t.Fatalf("the repo's knot.toml with the README's leaf snippet appended: %v", err)
	}
	for _, w := range warnings {
		if !strings.Contains(w, "http://") { // the test origin speaks plain HTTP
			t.Errorf("unexpected warning: %s", w)
		}
	}
	if !cfg.IsLeaf() {
		t.Fatal("the appended snippet does not turn leaf mode on")
	}
	srv, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	run := srv.Run(context.Background(), ln)
	t.Cleanup(func() { run.Stop() }) //nolint:errcheck // the test is over
	knottest.AwaitLeaf(t, srv.Leaf(), "the leaf connected to the origin", func() bool { return srv.Leaf().Status().Healthy() })
}
