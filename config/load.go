package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Load reads the file at path over the defaults, applies KNOT_* environment
// variables over both, and validates the result. Warnings (unknown keys,
// risky settings) are returned for the caller to log; they never stop start-up.
func Load(path string, environ []string) (Config, []string, error) {
	cfg := Default()
	raw := map[string]any{}
	if path != "" {
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return cfg, nil, fmt.Errorf("config file %s does not exist; create one with `knot scaffold > %s`", path, path)
		}
		if err != nil {
			return cfg, nil, fmt.Errorf("read config file %s: %w", path, err)
		}
		if _, err := toml.Decode(string(data), &raw); err != nil {
			return cfg, nil, fmt.Errorf("parse config file %s: %w", path, err)
		}
	}
	var warnings []string
	env := envMap(environ)
	known := map[string]bool{}
	for _, f := range fields(&cfg) {
		known[f.key] = true
		if v, ok := lookup(raw, f.key); ok {
			if err := setFromTOML(f.val, v); err != nil {
				shown := fmt.Sprint(v)
				if secretKeys[f.key] {
					shown = "(hidden)"
				}
				return cfg, nil, keyErr(f.key, shown, err.Error())
			}
		}
		name := EnvName(f.key)
		if s, ok := env[name]; ok {
			if err := setFromString(f.val, s); err != nil {
				return cfg, nil, keyErr(name+" ("+f.key+")", s, err.Error())
			}
			delete(env, name)
		}
	}
	// Whatever KNOT_* variable no key consumed is a typo or a leftover.
	for name := range env {
		warnings = append(warnings, fmt.Sprintf("unknown environment variable %s is ignored", name))
	}
	for _, k := range flatten("", raw) {
		if !known[k] {
			warnings = append(warnings, fmt.Sprintf("unknown key %q in %s is ignored", k, path))
		}
	}
	w, err := cfg.Validate()
	if err != nil {
		return cfg, nil, err
	}
	return cfg, append(warnings, w...), nil
}

// secretKeys are never echoed in an error, even when their value has the wrong type.
var secretKeys = map[string]bool{
	"server.encrypt":      true,
	"server.origin.token": true,
	"server.postgres.dsn": true,
}

// EnvName is the environment variable that overrides key.
func EnvName(key string) string {
	return "KNOT_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

type field struct {
	key string
	val reflect.Value
}

// fields lists every leaf key of the configuration with a settable value.
func fields(cfg *Config) []field {
	var out []field
	var walk func(prefix string, v reflect.Value)
	walk = func(prefix string, v reflect.Value) {
		t := v.Type()
		for i := range t.NumField() {
			key := t.Field(i).Tag.Get("toml")
			if prefix != "" {
				key = prefix + "." + key
			}
			fv := v.Field(i)
			if fv.Kind() == reflect.Struct {
				walk(key, fv)
				continue
			}
			out = append(out, field{key: key, val: fv})
		}
	}
	walk("", reflect.ValueOf(cfg).Elem())
	return out
}

// Keys lists every configuration key, in declaration order.
func Keys() []string {
	cfg := Default()
	var keys []string
	for _, f := range fields(&cfg) {
		keys = append(keys, f.key)
	}
	return keys
}

func lookup(m map[string]any, key string) (any, bool) {
	parts := strings.Split(key, ".")
	var cur any = m
	for _, p := range parts {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = mm[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func flatten(prefix string, m map[string]any) []string {
	var out []string
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok {
			out = append(out, flatten(key, sub)...)
			continue
		}
		out = append(out, key)
	}
	sort.Strings(out)
	return out
}

var (
	durationType = reflect.TypeFor[Duration]()
	urlListType  = reflect.TypeFor[URLList]()
)

func setFromTOML(dst reflect.Value, v any) error {
	switch {
	case dst.Type() == durationType:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("want a duration string such as \"30s\" or \"1h\"")
		}
		return setFromString(dst, s)
	case dst.Type() == urlListType:
		switch x := v.(type) {
		case string:
			dst.SetString(x)
		case []any:
			parts := make([]string, 0, len(x))
			for _, p := range x {
				ps, ok := p.(string)
				if !ok {
					return fmt.Errorf("want a URL in quotes or an array of them, such as [\"https://knot-1.internal\", \"https://knot-2.internal\"]")
				}
				parts = append(parts, ps)
			}
			dst.SetString(strings.Join(parts, ","))
		default:
			return fmt.Errorf("want a URL in quotes or an array of them, such as [\"https://knot-1.internal\", \"https://knot-2.internal\"]")
		}
	case dst.Kind() == reflect.String:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("want a string in quotes")
		}
		dst.SetString(s)
	case dst.Kind() == reflect.Int:
		n, ok := v.(int64)
		if !ok {
			return fmt.Errorf("want a whole number (without quotes)")
		}
		dst.SetInt(n)
	case dst.Kind() == reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			return fmt.Errorf("want true or false (without quotes)")
		}
		dst.SetBool(b)
	default:
		return fmt.Errorf("unsupported setting type %s", dst.Type())
	}
	return nil
}

func setFromString(dst reflect.Value, s string) error {
	switch {
	case dst.Type() == durationType:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("want a duration such as \"30s\" or \"1h\"")
		}
		dst.SetInt(int64(d))
	case dst.Kind() == reflect.String:
		dst.SetString(s)
	case dst.Kind() == reflect.Int:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("want a whole number")
		}
		dst.SetInt(int64(n))
	case dst.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("want true or false")
		}
		dst.SetBool(b)
	default:
		return fmt.Errorf("unsupported setting type %s", dst.Type())
	}
	return nil
}

func envMap(environ []string) map[string]string {
	m := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "KNOT_") {
			m[k] = v
		}
	}
	return m
}
