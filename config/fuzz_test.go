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
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, text string) {
		path := filepath.Join(dir, "knot.toml")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, _, err := Load(path, nil)
		if err != nil {
			return
		}
		again := cfg
		if _, err := again.Validate(); err != nil {
			t.Fatalf("accepted a configuration that does not validate again: %v", err)
		}
		if again != cfg {
			t.Fatalf("validating an accepted configuration changed it:\n%+v\n%+v", cfg, again)
		}
	})
}

// FuzzOriginURL checks server.origin.server: anything accepted is a list
// of http(s) URLs with a host, no credentials, query or fragment.
func FuzzOriginURL(f *testing.F) {
	for _, s := range []string{"https://knot.internal", "http://10.0.0.1:3000/", "https://a,https://b", "https://u:p@h", "ftp://x", "https://h/?q#f", " https://h ", "https://[::1]:3000"} {
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
