package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds knot.toml texts to Load: it may refuse them, never panic,
// and what it accepts validates again unchanged.
func FuzzLoad(f *testing.F) {
	f.Add("[server]\nlisten = \":3000\"\n")
	f.Add("[server.origin]\nserver = [\"https://a.internal\", \"https://b.internal:3000/\"]\ntoken = \"t\"\n")
	f.Add("[server.postgres]\nenabled = true\ndsn = \"postgres://u:p@h/db\"\n")
	f.Add("[server]\nsession_idle_timeout = \"0s\"\nzone = \"!x\"\n")
	f.Add("[log]\nlevel = 3\n[server.tls]\nuse_tls = \"yes\"\n")
	f.Add(Scaffold)
	// Keys spelt with other cases are left out by encoding the rest again.
	f.Add("[Server]\nListen = 1\n[server.origin]\nserver = [\"https://a.internal\"]\nheartbeat_interval = \"1m\"\n[[foo]]\nd = 1979-05-27\n")
	f.Add("[server]\ntls = 1\nlisten = \":4000\"\nLISTEN = \":4001\"\n")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, text string) {
		path := filepath.Join(dir, "knot.toml")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if cfg, _, err := Load(path, nil); err == nil {
			validatesUnchanged(t, cfg)
		}
	})
}

// FuzzOriginURL checks server.origin.server: anything accepted is a list
// of http(s) URLs with a host, no credentials, query or fragment.
func FuzzOriginURL(f *testing.F) {
	for _, s := range []string{"https://knot.internal", "http://10.0.0.1:3000/", "https://a,https://b", "https://u:p@h", "ftp://x", "https://h/?q#f", " https://h ", "https://[::1]:3000", "http://0/@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := Default()
		c.Server.Origin.Server = URLList(s)
		c.Server.Origin.Token = "t"
		if _, err := c.Validate(); err != nil {
			return
		}
		for _, u := range c.Server.Origin.Server.URLs() {
			if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
				t.Fatalf("accepted origin %q", u)
			}
			if strings.ContainsAny(u, "?#@") {
				t.Fatalf("accepted origin with a query, fragment or credentials: %q", u)
			}
		}
	})
}
