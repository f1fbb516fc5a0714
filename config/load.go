package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Load reads the file at path over the defaults, applies KNOT_* environment
// variables over both, and validates the result. Warnings (unknown keys,
// risky settings) are returned for the caller to log; they never stop start-up.
func Load(path string, environ []string) (Config, []string, error) {
	cfg := Default()
	var warnings []string
	if path != "" {
		unknown, err := decodeFile(path, &cfg)
		if err != nil {
			return cfg, nil, err
		}
		for _, k := range unknown {
			warnings = append(warnings, fmt.Sprintf("unknown key %q in %s is ignored", k, path))
		}
	}
	unused, err := applyEnv(&cfg, environ)
	if err != nil {
		return cfg, nil, err
	}
	// Whatever KNOT_* variable no key consumed is a typo or a leftover.
	for _, name := range unused {
		warnings = append(warnings, fmt.Sprintf("unknown environment variable %s is ignored", name))
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

// Keys lists every configuration key, in declaration order.
func Keys() []string {
	cfg := Default()
	var keys []string
	for _, s := range settings(&cfg) {
		keys = append(keys, s.key)
	}
	return keys
}

// setting is one key of knot.toml and the field it fills.
type setting struct {
	key string
	val reflect.Value
}

// settings walks the toml tags, so that the environment variables and the
// list of keys can never fall out of step with the struct.
func settings(cfg *Config) []setting {
	var out []setting
	var walk func(prefix string, v reflect.Value)
	walk = func(prefix string, v reflect.Value) {
		for i := range v.NumField() {
			key := prefix + v.Type().Field(i).Tag.Get("toml")
			if fv := v.Field(i); fv.Kind() == reflect.Struct {
				walk(key+".", fv)
			} else {
				out = append(out, setting{key: key, val: fv})
			}
		}
	}
	walk("", reflect.ValueOf(cfg).Elem())
	return out
}

// decodeFile decodes the file at path over cfg and returns the keys in it
// that knot does not know, as written.
func decodeFile(path string, cfg *Config) (unknown []string, err error) {
	var doc toml.Primitive
	md, err := toml.DecodeFile(path, &doc)
	var parseErr toml.ParseError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("config file %s does not exist; create one with `knot scaffold > %s`", path, path)
	case errors.As(err, &parseErr):
		return nil, fmt.Errorf("parse config file %s: %w", path, err)
	case err != nil:
		return nil, fmt.Errorf("read config file %s: %w", path, err)
	}
	all := settings(cfg)
	if drop := strays(md, all); len(drop) > 0 {
		unknown = leafKeys(md, drop)
		if md, doc, err = without(md, doc, drop); err != nil {
			return nil, fmt.Errorf("parse config file %s: %w", path, err)
		}
	}
	if err := checkTypes(md, doc, all); err != nil {
		return nil, err
	}
	if err := md.PrimitiveDecode(doc, cfg); err != nil {
		// Type mismatches were caught above; what is left is a value that
		// Duration or URLList refused, and toml names its key.
		if errors.As(err, &parseErr) && slices.ContainsFunc(all, func(s setting) bool { return s.key == parseErr.LastKey }) {
			return nil, keyErr(parseErr.LastKey, shown(md, doc, parseErr.LastKey), parseErr.Message)
		}
		return nil, fmt.Errorf("parse config file %s: %w", path, err)
	}
	return append(unknown, leafKeys(md, md.Undecoded())...), nil
}

// strays are the keys that toml would decode into a setting although knot
// does not know them as written: toml matches names case-insensitively
// ("Listen" would set listen), and a table written as a value ("server.tls =
// 1") would stop the whole decode. Everything below a stray is a stray too.
func strays(md toml.MetaData, all []setting) []toml.Key {
	known := map[string]string{} // key → the TOML type it must have; checkTypes judges settings
	for _, s := range all {
		known[s.key] = ""
		for i := strings.LastIndexByte(s.key, '.'); i > 0; i = strings.LastIndexByte(s.key[:i], '.') {
			known[s.key[:i]] = "Hash"
		}
	}
	isStray := map[string]bool{}
	var out []toml.Key
	for _, k := range md.Keys() {
		typ, ok := known[k.String()]
		if ok && (typ == "" || typ == md.Type(k...)) {
			continue
		}
		below := slices.ContainsFunc(out, func(s toml.Key) bool { return len(s) < len(k) && slices.Equal(s, k[:len(s)]) })
		if below || foldsOnto(k, known) {
			if !isStray[k.String()] {
				out = append(out, k)
			}
			isStray[k.String()] = true
		}
	}
	return out
}

// foldsOnto reports whether toml's case-insensitive matching takes k for a known key.
func foldsOnto(k toml.Key, known map[string]string) bool {
	for key := range known {
		if slices.EqualFunc(k, strings.Split(key, "."), strings.EqualFold) {
			return true
		}
	}
	return false
}

// without is doc without the keys in drop. toml has no way to skip a key
// while decoding into a struct, so the rest is encoded again and re-read.
func without(md toml.MetaData, doc toml.Primitive, drop []toml.Key) (toml.MetaData, toml.Primitive, error) {
	raw := rawValues(md, doc)
	for _, k := range drop {
		if table, ok := valueAt(raw, k[:len(k)-1]).(map[string]any); ok {
			delete(table, k[len(k)-1])
		}
	}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(raw); err != nil {
		return md, doc, err
	}
	var rest toml.Primitive
	md, err := toml.Decode(buf.String(), &rest)
	return md, rest, err
}

// leafKeys are keys as a user would name them in a warning: tables are left
// out (their keys are named instead), and a key below one already named
// (the members of an unknown array of tables) is not named again.
func leafKeys(md toml.MetaData, keys []toml.Key) []string {
	var out []string
	for _, k := range keys {
		name := k.String()
		if md.Type(k...) == "Hash" || slices.ContainsFunc(out, func(o string) bool { return name == o || strings.HasPrefix(name, o+".") }) {
			continue
		}
		out = append(out, name)
	}
	return out
}

// tomlTypes says which TOML types each kind of setting takes, and how an
// error says so.
var tomlTypes = map[reflect.Type]struct {
	types   []string
	allowed string
}{
	reflect.TypeFor[string]():   {[]string{"String"}, "want a string in quotes"},
	reflect.TypeFor[int]():      {[]string{"Integer"}, "want a whole number (without quotes)"},
	reflect.TypeFor[bool]():     {[]string{"Bool"}, "want true or false (without quotes)"},
	reflect.TypeFor[Duration](): {[]string{"String"}, `want a duration string such as "30s" or "1h"`},
	reflect.TypeFor[URLList]():  {[]string{"String", "Array"}, urlListAllowed},
}

// checkTypes finds the first setting, in declaration order, whose value has
// the wrong TOML type. toml would report it too, but without the key as a
// field to put in a KeyError, and in whatever order its maps come.
func checkTypes(md toml.MetaData, doc toml.Primitive, all []setting) error {
	for _, s := range all {
		want, ok := tomlTypes[s.val.Type()]
		if !ok {
			panic("config: no TOML types for " + s.val.Type().String())
		}
		if got := md.Type(strings.Split(s.key, ".")...); got != "" && !slices.Contains(want.types, got) {
			return keyErr(s.key, shown(md, doc, s.key), want.allowed)
		}
	}
	return nil
}

// shown is the value at key as an error may echo it.
func shown(md toml.MetaData, doc toml.Primitive, key string) string {
	if secretKeys[key] {
		return "(hidden)"
	}
	return fmt.Sprint(valueAt(rawValues(md, doc), strings.Split(key, ".")))
}

// rawValues is doc as toml parsed it: tables as map[string]any.
func rawValues(md toml.MetaData, doc toml.Primitive) any {
	var raw any
	if err := md.PrimitiveDecode(doc, &raw); err != nil {
		panic("config: decoding into an interface cannot fail: " + err.Error())
	}
	return raw
}

func valueAt(raw any, path []string) any {
	for _, p := range path {
		table, _ := raw.(map[string]any)
		raw = table[p]
	}
	return raw
}

// applyEnv sets every key that has a KNOT_* variable in environ, and returns
// the KNOT_* variables that name no key.
func applyEnv(cfg *Config, environ []string) (unused []string, err error) {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "KNOT_") {
			env[k] = v
		}
	}
	for _, s := range settings(cfg) {
		name := EnvName(s.key)
		text, ok := env[name]
		if !ok {
			continue
		}
		delete(env, name)
		if err := setText(s.val, text); err != nil {
			return nil, keyErr(name+" ("+s.key+")", text, err.Error())
		}
	}
	for name := range env {
		unused = append(unused, name)
	}
	sort.Strings(unused)
	return unused, nil
}

// setText sets one setting from an environment variable, where every value
// is text: Duration and URLList parse themselves, as they do from knot.toml.
func setText(v reflect.Value, text string) error {
	switch p := v.Addr().Interface().(type) {
	case encoding.TextUnmarshaler:
		return p.UnmarshalText([]byte(text))
	case *string:
		*p = text
	case *int:
		n, err := strconv.Atoi(strings.TrimSpace(text))
		if err != nil {
			return errors.New("want a whole number")
		}
		*p = n
	case *bool:
		b, err := strconv.ParseBool(strings.TrimSpace(text))
		if err != nil {
			return errors.New("want true or false")
		}
		*p = b
	default:
		panic("config: no way to set " + v.Type().String() + " from the environment")
	}
	return nil
}
