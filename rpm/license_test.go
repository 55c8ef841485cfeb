package rpm

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
)

// licenceKinds tells the licences of vendored modules apart by a phrase
// of their standard text, in SPDX terms. The first match wins, so BSD-3
// (which adds "Neither the name") comes before BSD-2.
var licenceKinds = []struct {
	spdx string
	text *regexp.Regexp
}{
	{"Apache-2.0", regexp.MustCompile(`Apache License,?\s+Version 2\.0`)},
	{"MPL-2.0", regexp.MustCompile(`Mozilla Public License,?\s+(Version|v\.)\s*2\.0`)},
	{"BSD-3-Clause", regexp.MustCompile(`(?s)Redistribution and use in source and binary forms.*Neither the name`)},
	{"BSD-2-Clause", regexp.MustCompile(`Redistribution and use in source and binary forms`)},
	{"MIT", regexp.MustCompile(`Permission is hereby granted, free of charge`)},
	{"ISC", regexp.MustCompile(`Permission to use, copy, modify, and(/or)? distribute this software for any`)},
}

// specLicence is the spec's License tag.
var specLicence = regexp.MustCompile(`(?m)^License:\s*(.+)$`)

// The spec's License tag names exactly the licences of atomic-selftest
// (Apache-2.0, LICENSE) and of the modules it vendors: a new dependency
// under a licence the tag lacks, or a tag naming a licence nothing has
// any more, fails here with the modules named.
func TestSpecLicenceCoversVendoredModules(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: makes the vendor archive from the git checkout with go mod vendor")
	}
	testutil.NeedCommand(t, "git", "git")
	testutil.NeedCommand(t, "go", "go")
	v := version(t)
	src := makeSources(t)

	byLicence := map[string][]string{"Apache-2.0": {"atomic-selftest"}}
	own, err := os.ReadFile(filepath.Join(top(t), "LICENSE"))
	if err != nil {
		t.Fatal(err)
	}
	if !licenceKinds[0].text.Match(own) {
		t.Fatal("LICENSE is not the Apache License 2.0 the spec's License tag starts with")
	}
	for _, e := range readTarGz(t, filepath.Join(src, fmt.Sprintf("%s-%s-vendor.tar.gz", name, v))) {
		base := path.Base(e.name)
		if !regexp.MustCompile(`^(LICENSE|LICENCE|COPYING)`).MatchString(base) {
			continue
		}
		// LICENSE.docs (opencontainers/go-digest: CC-BY-SA-4.0) covers a
		// module's documentation, none of which is compiled into the
		// binaries; the file is still shipped with the other licences.
		if strings.HasSuffix(base, ".docs") {
			continue
		}
		module := strings.TrimPrefix(path.Dir(e.name), "vendor/")
		kind := ""
		for _, k := range licenceKinds {
			if k.text.Match(e.data) {
				kind = k.spdx
				break
			}
		}
		if kind == "" {
			t.Errorf("%s: licence text not recognised; add its SPDX id to licenceKinds and to the spec's License tag", e.name)
			continue
		}
		byLicence[kind] = append(byLicence[kind], module)
	}

	spec, err := os.ReadFile(filepath.Join(top(t), name+".spec"))
	if err != nil {
		t.Fatal(err)
	}
	m := specLicence.FindSubmatch(spec)
	if m == nil {
		t.Fatal("the spec has no License tag")
	}
	tag := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(m[1])), " AND ") {
		tag[strings.TrimSpace(l)] = true
	}
	var want []string
	for l, modules := range byLicence {
		want = append(want, l)
		if !tag[l] {
			sort.Strings(modules)
			t.Errorf("the spec's License tag (and ValidLicenses in rpm/rpmlint.toml) lacks %s, the licence of %s", l, strings.Join(modules, ", "))
		}
	}
	for l := range tag {
		if _, ok := byLicence[l]; !ok {
			t.Errorf("the spec's License tag names %s, which no vendored module has any more", l)
		}
	}
	sort.Strings(want)
	t.Logf("licences: %s", strings.Join(want, " AND "))
}
