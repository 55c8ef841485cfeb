package rpm

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/atomic-selftest/atomic-selftest/selftest/config"
)

// vendorConfig is the vendor configuration the package installs as
// /usr/lib/atomic-selftest/config.d/00-defaults.toml.
const vendorConfig = "../dist/config.d/00-defaults.toml"

var update = flag.Bool("update", false, "rewrite dist/config.d/00-defaults.toml from selftest/config")

// configSource is the package whose types and doc comments the vendor file
// documents.
const configSource = "../selftest/config"

// vendorHeader opens the vendor file.
const vendorHeader = `# atomic-selftest vendor configuration, installed as
# /usr/lib/atomic-selftest/config.d/00-defaults.toml.
#
# Every key is shown commented out with its built-in default: this file
# changes nothing, it documents. Do not edit it (an update replaces it);
# put your changes in /etc/atomic-selftest/config.d/NAME.toml instead.
#
# Files are read vendor directory first, then /etc, each in lexical order of
# name. A later file's value replaces an earlier one; the check lists
# (disable, demote) add up across files, and ` + "`enable`" + ` takes a check back out
# of an earlier file's ` + "`disable`" + `. Unknown keys and bad values are errors
# that name the file and the key. Durations are Go durations: "90s", "5m".
# ` + "`atomic-selftest list`" + ` prints the check ids.
#
# Generated from selftest/config (doc comments and Defaults()) by
# ` + "`go test ./rpm -run VendorConfig -update`" + `.
`

// docComments reads the doc comments of the configuration's struct types
// and their fields: type name -> "" for the type's own, field name for each
// field.
func docComments(t *testing.T) map[string]map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	matches, err := filepath.Glob(filepath.Join(configSource, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]map[string]string{}
	for _, path := range matches {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				m := map[string]string{"": gd.Doc.Text()}
				if ts.Doc != nil {
					m[""] = ts.Doc.Text()
				}
				for _, field := range st.Fields.List {
					for _, n := range field.Names {
						m[n.Name] = field.Doc.Text()
					}
				}
				docs[ts.Name.Name] = m
			}
		}
	}
	return docs
}

// commentLines turns a doc comment into "# " lines.
func commentLines(b *bytes.Buffer, doc string) {
	for _, l := range strings.Split(strings.TrimSpace(doc), "\n") {
		if l = strings.TrimSpace(l); l == "" {
			b.WriteString("#\n")
		} else {
			b.WriteString("# " + l + "\n")
		}
	}
}

// tomlValue writes a default the way an admin would type it.
func tomlValue(t *testing.T, v reflect.Value) string {
	t.Helper()
	if d, ok := v.Interface().(config.Duration); ok {
		s := time.Duration(d).String()
		// "10m0s" reads better as "10m"; both parse the same.
		if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		return strconv.Quote(s)
	}
	switch v.Kind() {
	case reflect.String:
		return strconv.Quote(v.String())
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int64, reflect.Int32:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Float64:
		s := strconv.FormatFloat(v.Float(), 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	case reflect.Slice:
		var items []string
		for i := 0; i < v.Len(); i++ {
			items = append(items, tomlValue(t, v.Index(i)))
		}
		return "[" + strings.Join(items, ", ") + "]"
	case reflect.Map:
		// An inline table, keys in order: {} for an empty one.
		var items []string
		for _, k := range v.MapKeys() {
			items = append(items, strconv.Quote(k.String())+" = "+tomlValue(t, v.MapIndex(k)))
		}
		sort.Strings(items)
		if len(items) == 0 {
			return "{}"
		}
		return "{ " + strings.Join(items, ", ") + " }"
	}
	t.Fatalf("the vendor file cannot show a %s default; teach tomlValue", v.Type())
	return ""
}

// renderVendorConfig writes the vendor file: one section per field of
// config.Config, its type's doc comment, then each key's doc comment and
// its default from config.Defaults(), commented out.
func renderVendorConfig(t *testing.T) []byte {
	t.Helper()
	docs := docComments(t)
	var b bytes.Buffer
	b.WriteString(vendorHeader)
	defaults := reflect.ValueOf(config.Defaults()).Elem()
	typ := defaults.Type()
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		section := strings.Split(f.Tag.Get("toml"), ",")[0]
		if section == "" || section == "-" || f.Type.Kind() != reflect.Struct {
			continue
		}
		fdocs := docs[f.Type.Name()]
		// Comments name fields by their Go names ("Keep is how many
		// ..."); an admin knows them by their keys.
		var pairs []string
		for j := 0; j < f.Type.NumField(); j++ {
			kf := f.Type.Field(j)
			if key := strings.Split(kf.Tag.Get("toml"), ",")[0]; key != "" && key != "-" {
				pairs = append(pairs, kf.Name, "`"+key+"`")
			}
		}
		keyNames := func(doc string) string {
			for i := 0; i < len(pairs); i += 2 {
				doc = regexp.MustCompile(`\b`+pairs[i]+`\b`).ReplaceAllString(doc, pairs[i+1])
			}
			return doc
		}
		b.WriteString("\n")
		commentLines(&b, regexp.MustCompile(`\b`+f.Type.Name()+`\b`).ReplaceAllString(fdocs[""], "`["+section+"]`"))
		fmt.Fprintf(&b, "[%s]\n", section)
		for j := 0; j < f.Type.NumField(); j++ {
			kf := f.Type.Field(j)
			key := strings.Split(kf.Tag.Get("toml"), ",")[0]
			if key == "" || key == "-" || !kf.IsExported() {
				continue
			}
			switch {
			case fdocs[kf.Name] != "":
				commentLines(&b, keyNames(fdocs[kf.Name]))
			case j > 0 && strings.Contains(fdocs[f.Type.Field(j-1).Name], kf.Name):
				// Documented together with the key before it
				// ("DataPercent and MetadataPercent are ...").
			default:
				t.Errorf("selftest/config: %s.%s (%s) has no doc comment for the vendor file", f.Type.Name(), kf.Name, section+"."+key)
			}
			fmt.Fprintf(&b, "# %s = %s\n", key, tomlValue(t, defaults.Field(i).Field(j)))
		}
	}
	return b.Bytes()
}

// The vendor file is what selftest/config's doc comments and defaults
// make of it: a key added to the configuration appears in it with its
// comment and default after `go test ./rpm -run VendorConfig -update`.
func TestVendorConfigIsGenerated(t *testing.T) {
	want := renderVendorConfig(t)
	if *update {
		if err := os.WriteFile(vendorConfig, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(vendorConfig)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date with selftest/config; run `go test ./rpm -run VendorConfig -update` and commit it.\nwant:\n%s", vendorConfig, want)
	}
}

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
