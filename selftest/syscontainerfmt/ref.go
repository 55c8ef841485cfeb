package syscontainerfmt

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// OciImagePrefix starts the ostree refs of the atomic CLI's images
// (OSTREE_OCIIMAGE_PREFIX in Atomic/syscontainers.py).
const OciImagePrefix = "ociimage/"

// decompose splits an image name as the atomic CLI's util.Decompose
// does: registry, repository/image, tag, digest, with the tag "latest"
// when neither tag nor digest is given and docker.io's implicit "library"
// repository left out. Decompose tells a registry from a repository by a
// DNS lookup; offline, the first component counts as a registry when it
// looks like a host name (a dot or a port) or is localhost, the same rule
// docker's reference parser uses.
func decompose(name string) (reg, imageWithRepo, tag, digest string) {
	for _, p := range []string{"oci:", "docker://", "docker:", "http:", "https:"} {
		name = strings.TrimPrefix(name, p)
	}
	repo := name
	if i := strings.IndexByte(repo, '/'); i >= 0 {
		first := repo[:i]
		if strings.ContainsAny(first, ".:") || first == "localhost" {
			reg, repo = first, repo[i+1:]
		}
	}
	if i := strings.LastIndex(repo, "@"); i >= 0 && strings.HasPrefix(repo[i+1:], "sha256:") {
		repo, digest = repo[:i], repo[i+1:]
	}
	if i := strings.LastIndexByte(repo, ':'); i >= 0 {
		repo, tag = repo[:i], repo[i+1:]
	}
	image := ""
	if i := strings.LastIndexByte(repo, '/'); i >= 0 {
		repo, image = repo[:i], repo[i+1:]
	}
	if image == "" {
		image, repo = repo, ""
	}
	if tag == "" && digest == "" {
		tag = "latest"
	}
	imageWithRepo = image
	if repo != "" {
		imageWithRepo = repo + "/" + image
	}
	return reg, imageWithRepo, tag, digest
}

// fullName is the name the atomic CLI encodes: [registry/]image:tag.
func fullName(image string) string {
	reg, iwr, tag, _ := decompose(image)
	if reg != "" {
		return reg + "/" + iwr + ":" + tag
	}
	return iwr + ":" + tag
}

// EncodeOstreeRef encodes an image name into the part of its ref after
// OciImagePrefix (_encode_to_ostree_ref): letters, digits, '.' and '-'
// stay, every other character becomes '_' and its code point in
// upper-case hex of at least two digits ("busybox:latest" ->
// "busybox_3Alatest").
func EncodeOstreeRef(image string) string {
	image = strings.TrimPrefix(image, "sha256:")
	var b strings.Builder
	for _, r := range fullName(image) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '-' {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, "_%02X", r)
		}
	}
	return b.String()
}

// DecodeOstreeRef reverses EncodeOstreeRef (_decode_from_ostree_ref: '_'
// and two hex digits); a name that does not decode is returned as it is.
func DecodeOstreeRef(ref string) string {
	var b strings.Builder
	for i := 0; i < len(ref); i++ {
		if ref[i] != '_' {
			b.WriteByte(ref[i])
			continue
		}
		if i+3 > len(ref) {
			return ref
		}
		v, err := strconv.ParseUint(ref[i+1:i+3], 16, 8)
		if err != nil {
			return ref
		}
		b.WriteRune(rune(v))
		i += 2
	}
	return b.String()
}

// NormalizeImage is the name two spellings of one image share.
func NormalizeImage(image string) string {
	return fullName(strings.TrimPrefix(image, "sha256:"))
}
