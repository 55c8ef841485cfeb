package rpm

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/atomic-selftest/atomic-selftest/selftest/config"
)

// vendorConfig is the vendor configuration the package installs as
// /usr/lib/atomic-selftest/config.d/00-defaults.toml.
const vendorConfig = "../dist/config.d/00-defaults.toml"

// commentedKey matches a key line the vendor file shows commented out.
var commentedKey = regexp.MustCompile(`(?m)^# ([a-z_]+ = .*)$`)

// uncomment turns the documented defaults into settings.
func uncomment(data []byte) ([]byte, int) {
	n := len(commentedKey.FindAll(data, -1))
	return commentedKey.ReplaceAll(data, []byte("$1")), n
}

// sameAsDefaults fails t unless cfg holds exactly the built-in defaults.
func sameAsDefaults(t *testing.T, what string, cfg *config.Config) {
	t.Helper()
	got := *cfg
	got.Files = nil
	want := *config.Defaults()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s differs from config.Defaults():\n got %+v\nwant %+v", what, got, want)
	}
}

// tomlKeys lists every key of the configuration as section.key, from the
// struct's toml tags: what the vendor file must document.
func tomlKeys(typ reflect.Type, prefix string) []string {
	var keys []string
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		tag := strings.Split(f.Tag.Get("toml"), ",")[0]
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		if f.Type.Kind() == reflect.Struct {
			keys = append(keys, tomlKeys(f.Type, prefix+tag+".")...)
			continue
		}
		keys = append(keys, prefix+tag)
	}
	return keys
}

// The vendor file as shipped changes nothing: loading it gives the
// built-in defaults, and selftest/config accepts it (no unknown key, no
// bad value).
func TestVendorConfigAsShipped(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(vendorConfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "00-defaults.toml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadDirs(dir)
	if err != nil {
		t.Fatalf("selftest/config rejects the vendor file: %v", err)
	}
	if len(cfg.Files) != 1 {
		t.Fatalf("files read: %v, want the vendor file", cfg.Files)
	}
	sameAsDefaults(t, "the vendor file as shipped", cfg)
}

// Every key the vendor file documents, uncommented, is accepted and has
// the value the code uses by default; and every key the configuration
// knows is documented. When a section gains a key, this names it.
func TestVendorConfigDocumentsEveryDefault(t *testing.T) {
	data, err := os.ReadFile(vendorConfig)
	if err != nil {
		t.Fatal(err)
	}
	settings, n := uncomment(data)
	want := tomlKeys(reflect.TypeOf(config.Config{}), "")
	if n != len(want) {
		t.Errorf("the vendor file documents %d keys, the configuration has %d", n, len(want))
	}

	var doc map[string]any
	md, err := toml.Decode(string(settings), &doc)
	if err != nil {
		t.Fatalf("the uncommented vendor file is not TOML: %v", err)
	}
	documented := map[string]bool{}
	for _, k := range md.Keys() {
		documented[k.String()] = true
	}
	var missing []string
	for _, k := range want {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%s does not document %s: add each, commented out with its default from config.Defaults()",
			vendorConfig, strings.Join(missing, ", "))
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "00-defaults.toml"), settings, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadDirs(dir)
	if err != nil {
		t.Fatalf("selftest/config rejects the documented defaults: %v", err)
	}
	sameAsDefaults(t, "the documented defaults", cfg)
}

// The check above can fail: a documented default that differs from the
// code's is caught.
func TestVendorConfigWrongDefaultIsCaught(t *testing.T) {
	data, err := os.ReadFile(vendorConfig)
	if err != nil {
		t.Fatal(err)
	}
	settings, _ := uncomment(data)
	wrong := strings.Replace(string(settings), "keep = 100", "keep = 99", 1)
	if wrong == string(settings) {
		t.Fatal("the vendor file does not document results.keep = 100")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "00-defaults.toml"), []byte(wrong), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadDirs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Results.Keep != 99 {
		t.Fatalf("results.keep = %d after documenting 99", cfg.Results.Keep)
	}
	if reflect.DeepEqual(cfg.Results, config.Defaults().Results) {
		t.Fatal("a changed default compares equal to the built-in one")
	}
}
