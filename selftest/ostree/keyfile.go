package ostree

import (
	"fmt"
	"strings"
)

// KeyFile is a parsed GLib key file (the "Desktop Entry" ini dialect of
// GKeyFile), the format of ostree's deployment .origin files and of the
// repository config: [group] headers, key=value lines, '#' comments.
type KeyFile struct {
	groups map[string]map[string]string
	order  []string
}

// ParseKeyFile parses data; name is used in errors. Like GKeyFile it
// rejects a key before the first group and a line that is neither a
// group, a key=value pair nor a comment.
func ParseKeyFile(name string, data []byte) (*KeyFile, error) {
	kf := &KeyFile{groups: map[string]map[string]string{}}
	var cur map[string]string
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimLeft(strings.TrimSuffix(line, "\r"), " \t")
		if line == "" || line[0] == '#' {
			continue
		}
		if strings.ContainsRune(line, 0) {
			return nil, fmt.Errorf("%s line %d: contains a nul byte", name, n+1)
		}
		if line[0] == '[' {
			end := strings.LastIndexByte(line, ']')
			g := ""
			if end > 0 {
				g = line[1:end]
			}
			if end < 0 || g == "" || strings.ContainsAny(g, "[]") || strings.TrimSpace(line[end+1:]) != "" {
				return nil, fmt.Errorf("%s line %d: %q is not a valid group header", name, n+1, line)
			}
			if kf.groups[g] == nil {
				kf.groups[g] = map[string]string{}
				kf.order = append(kf.order, g)
			}
			cur = kf.groups[g]
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		key = strings.TrimRight(key, " \t")
		if !ok || key == "" {
			return nil, fmt.Errorf("%s line %d: %q is not a group, key=value pair or comment", name, n+1, line)
		}
		if cur == nil {
			return nil, fmt.Errorf("%s line %d: key %q before the first [group]", name, n+1, key)
		}
		cur[key] = strings.TrimLeft(val, " \t")
	}
	return kf, nil
}

// Groups returns the group names in file order.
func (kf *KeyFile) Groups() []string { return kf.order }

// Raw returns the unescaped value text of group/key.
func (kf *KeyFile) Raw(group, key string) (string, bool) {
	g, ok := kf.groups[group]
	if !ok {
		return "", false
	}
	v, ok := g[key]
	return v, ok
}

// String returns group/key with GKeyFile's escapes (\s \n \t \r \\)
// resolved, or "" when absent.
func (kf *KeyFile) String(group, key string) string {
	v, _ := kf.Raw(group, key)
	return unescapeValue(v, false)[0]
}

// Bool returns group/key as a GKeyFile boolean ("true"/"1" or
// "false"/"0"); absent is false, anything else an error.
func (kf *KeyFile) Bool(group, key string) (bool, error) {
	v, ok := kf.Raw(group, key)
	if !ok {
		return false, nil
	}
	switch strings.TrimRight(v, " \t") {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("[%s] %s=%q is not a boolean", group, key, v)
}

// List returns group/key as a GKeyFile string list: items separated by
// ';' (escaped as "\;"), a trailing separator optional.
func (kf *KeyFile) List(group, key string) []string {
	v, ok := kf.Raw(group, key)
	if !ok || v == "" {
		return nil
	}
	return unescapeValue(v, true)
}

func unescapeValue(v string, list bool) []string {
	var out []string
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && i+1 < len(v):
			i++
			switch v[i] {
			case 's':
				b.WriteByte(' ')
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			default:
				// "\\", "\;" and unknown escapes keep the character.
				b.WriteByte(v[i])
			}
		case c == ';' && list:
			out = append(out, b.String())
			b.Reset()
		default:
			b.WriteByte(c)
		}
	}
	if !list || b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

// Origin is a deployment's .origin file: how ostree or rpm-ostree builds
// the next version of the deployment. The [origin] keys come from libostree
// (refspec, unlocked) and rpm-ostree (baserefspec when packages are
// layered, override-commit for `deploy`, container-image-reference); the
// [packages] and [overrides] groups are rpm-ostree's (rust/src/origin.rs in
// coreos/rpm-ostree writes them as ';'-terminated lists, local packages as
// "sha256:nevra"); [libostree-transient] pinned=true marks a pinned
// deployment.
type Origin struct {
	Refspec                 string
	BaseRefspec             string
	ContainerImageReference string
	OverrideCommit          string
	// Unlocked is ostree's [origin] unlocked= ("hotfix" persists here).
	Unlocked string
	// RequestedPackages are layered from repositories ([packages] requested).
	RequestedPackages []string
	// RequestedLocalPackages are the NEVRAs of layered local RPMs
	// ([packages] requested-local, each "sha256:nevra").
	RequestedLocalPackages []string
	// OverrideRemove are base packages removed ([overrides] remove).
	OverrideRemove []string
	// OverrideReplaceLocal are NEVRAs replacing base packages.
	OverrideReplaceLocal []string
	Pinned               bool
	File                 *KeyFile
}

// ParseOrigin parses an origin keyfile; name is used in errors.
func ParseOrigin(name string, data []byte) (*Origin, error) {
	kf, err := ParseKeyFile(name, data)
	if err != nil {
		return nil, err
	}
	o := &Origin{
		File:                    kf,
		Refspec:                 kf.String("origin", "refspec"),
		BaseRefspec:             kf.String("origin", "baserefspec"),
		ContainerImageReference: kf.String("origin", "container-image-reference"),
		OverrideCommit:          kf.String("origin", "override-commit"),
		Unlocked:                kf.String("origin", "unlocked"),
		RequestedPackages:       kf.List("packages", "requested"),
		RequestedLocalPackages:  nevras(kf.List("packages", "requested-local")),
		OverrideRemove:          kf.List("overrides", "remove"),
		OverrideReplaceLocal:    nevras(kf.List("overrides", "replace-local")),
	}
	if o.Pinned, err = kf.Bool("libostree-transient", "pinned"); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if o.Refspec == "" && o.BaseRefspec == "" && o.ContainerImageReference == "" {
		return nil, fmt.Errorf("%s: no refspec, baserefspec or container-image-reference in [origin]", name)
	}
	return o, nil
}

// nevras strips the "sha256:" prefix rpm-ostree stores local packages with.
func nevras(l []string) []string {
	var out []string
	for _, s := range l {
		if _, nevra, ok := strings.Cut(s, ":"); ok {
			s = nevra
		}
		out = append(out, s)
	}
	return out
}

// EffectiveRefspec is what the deployment follows: the refspec, or the
// base refspec of a layered deployment, or the container image.
func (o *Origin) EffectiveRefspec() string {
	switch {
	case o == nil:
		return ""
	case o.Refspec != "":
		return o.Refspec
	case o.BaseRefspec != "":
		return o.BaseRefspec
	}
	return o.ContainerImageReference
}

// LayeredPackages returns the requested packages, repository and local,
// in file order.
func (o *Origin) LayeredPackages() []string {
	if o == nil {
		return nil
	}
	return append(append([]string(nil), o.RequestedPackages...), o.RequestedLocalPackages...)
}
