package ostree

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
)

// This file decodes GLib's GVariant serialisation format (the "GVariant
// Serialisation" chapter of the GLib reference, also described in
// https://people.gnome.org/~desrt/gvariant-serialisation.pdf), which is
// what ostree writes to commit objects, /run/ostree-booted and
// /run/ostree/staged-deployment. It is read-only and little-endian: ostree
// writes these files in host byte order, and the hosts we check are x86_64
// and aarch64. Unlike GLib, which silently substitutes default values for
// malformed data, every inconsistency is an error saying what was wrong, so
// a garbled file becomes a clear finding.

// Variant is a value of type v: its type string and decoded value.
type Variant struct {
	Type  string
	Value any
}

// DictEntry is one {kv} of a dictionary array.
type DictEntry struct {
	Key   any
	Value any
}

// VarDict is a decoded a{sv}.
type VarDict map[string]Variant

// String returns the string value of key, and whether it was one.
func (d VarDict) String(key string) (string, bool) {
	v, ok := d[key]
	if !ok {
		return "", false
	}
	s, ok := v.Value.(string)
	return s, ok && (v.Type == "s" || v.Type == "o")
}

// Bool returns the boolean value of key, and whether it was one.
func (d VarDict) Bool(key string) (bool, bool) {
	v, ok := d[key]
	if !ok {
		return false, false
	}
	b, ok := v.Value.(bool)
	return b, ok
}

// Keys returns the keys, sorted.
func (d VarDict) Keys() []string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// maxDepth bounds nesting of containers and variants, as GLib's
// G_VARIANT_MAX_RECURSION_DEPTH does, so hostile data cannot exhaust the
// stack.
const maxDepth = 64

// gvType is a parsed type string.
type gvType struct {
	sig   string
	kind  byte // the first character: a basic type, 'a', 'm', '(' or '{'
	elems []*gvType
	align int
	fixed int // serialised size when fixed, else -1
	// least is the least the decoder charges for one value of this type
	// (see decoder.charge): arrays check it before allocating elements.
	least int64
}

// parseTypeString parses one complete GVariant type string.
func parseTypeString(sig string) (*gvType, error) {
	t, rest, err := parseType(sig, 0)
	if err != nil {
		return nil, err
	}
	if rest != "" {
		return nil, fmt.Errorf("type %q: trailing %q after a complete type", sig, rest)
	}
	return t, nil
}

func parseType(s string, depth int) (*gvType, string, error) {
	t, rest, err := parseType1(s, depth)
	if err == nil {
		t.least = leastCost(t)
	}
	return t, rest, err
}

func parseType1(s string, depth int) (*gvType, string, error) {
	if depth > maxDepth {
		return nil, "", fmt.Errorf("type nested deeper than %d", maxDepth)
	}
	if s == "" {
		return nil, "", fmt.Errorf("incomplete type string")
	}
	c := s[0]
	switch c {
	case 'b', 'y':
		return &gvType{sig: s[:1], kind: c, align: 1, fixed: 1}, s[1:], nil
	case 'n', 'q':
		return &gvType{sig: s[:1], kind: c, align: 2, fixed: 2}, s[1:], nil
	case 'i', 'u', 'h':
		return &gvType{sig: s[:1], kind: c, align: 4, fixed: 4}, s[1:], nil
	case 'x', 't', 'd':
		return &gvType{sig: s[:1], kind: c, align: 8, fixed: 8}, s[1:], nil
	case 's', 'o', 'g':
		return &gvType{sig: s[:1], kind: c, align: 1, fixed: -1}, s[1:], nil
	case 'v':
		return &gvType{sig: s[:1], kind: c, align: 8, fixed: -1}, s[1:], nil
	case 'a', 'm':
		e, rest, err := parseType(s[1:], depth+1)
		if err != nil {
			return nil, "", err
		}
		return &gvType{sig: s[:len(s)-len(rest)], kind: c, elems: []*gvType{e}, align: e.align, fixed: -1}, rest, nil
	case '(', '{':
		closer := byte(')')
		if c == '{' {
			closer = '}'
		}
		t := &gvType{kind: c, align: 1}
		rest := s[1:]
		for {
			if rest == "" {
				return nil, "", fmt.Errorf("type %q: missing %q", s, string(closer))
			}
			if rest[0] == closer {
				rest = rest[1:]
				break
			}
			e, r, err := parseType(rest, depth+1)
			if err != nil {
				return nil, "", err
			}
			t.elems = append(t.elems, e)
			rest = r
		}
		t.sig = s[:len(s)-len(rest)]
		if c == '{' {
			if len(t.elems) != 2 || !strings.ContainsRune("bynqiuxthdsog", rune(t.elems[0].kind)) {
				return nil, "", fmt.Errorf("type %q: a dict entry needs a basic key and one value", t.sig)
			}
		}
		pos, allFixed := 0, true
		for _, e := range t.elems {
			if e.align > t.align {
				t.align = e.align
			}
			if e.fixed < 0 {
				allFixed = false
			} else {
				pos = alignUp(pos, e.align) + e.fixed
			}
		}
		t.fixed = -1
		if allFixed {
			if len(t.elems) == 0 {
				t.fixed = 1
			} else {
				t.fixed = alignUp(pos, t.align)
			}
		}
		return t, rest, nil
	}
	return nil, "", fmt.Errorf("type %q: %q is not a type character", s, string(c))
}

func alignUp(n, a int) int {
	return (n + a - 1) &^ (a - 1)
}

// offsetSize is the width of framing offsets in a container of n bytes.
func offsetSize(n int) int {
	switch {
	case n == 0:
		return 0
	case n <= math.MaxUint8:
		return 1
	case n <= math.MaxUint16:
		return 2
	case uint64(n) <= math.MaxUint32:
		return 4
	}
	return 8
}

func readOffset(b []byte) int {
	switch len(b) {
	case 1:
		return int(b[0])
	case 2:
		return int(binary.LittleEndian.Uint16(b))
	case 4:
		return int(binary.LittleEndian.Uint32(b))
	}
	v := binary.LittleEndian.Uint64(b)
	if v > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(v)
}

// Memory bounds. Decoding turns bytes into Go values, and a value can
// cost far more than the bytes it came from: an a() spends one byte per
// element, and each element becomes an interface slot and a boxed slice
// (40 bytes of heap per input byte). So a decode has a budget of
// maxExpansion bytes of values per input byte plus decodeSlack, charged
// as values are made (an upper bound of what each allocates, see cost),
// and arrays check that their elements fit before allocating them: input
// that would exceed it is refused, not decoded. The budget covers what
// legitimate data needs with room to spare: rpm-ostree's package list
// (a(stsss), about 48 bytes a package) takes about 5 bytes a byte.
const (
	maxExpansion = 16
	decodeSlack  = 64 << 10
)

// ErrTooLarge is wrapped by the error of a decode refused for its memory
// budget.
var ErrTooLarge = errors.New("decoding would exceed its memory budget")

type decoder struct {
	size   int   // input bytes
	budget int64 // bytes of values still allowed
	limit  int64
	// types caches the type strings of variants: an a{sv} repeats "s"
	// thousands of times and parsing each again would cost more than
	// the bytes it is made of.
	types map[string]*gvType
}

func newDecoder(size int) *decoder {
	limit := int64(size)*maxExpansion + decodeSlack
	return &decoder{size: size, budget: limit, limit: limit, types: map[string]*gvType{}}
}

func (d *decoder) charge(n int64) error {
	d.budget -= n
	if d.budget < 0 {
		return d.refuse()
	}
	return nil
}

func (d *decoder) refuse() error {
	return fmt.Errorf("%w: %d bytes of input may take at most %d bytes of memory (%d per byte plus %d)",
		ErrTooLarge, d.size, d.limit, maxExpansion, decodeSlack)
}

// cost is an upper bound of what the Go allocator takes for an object of
// n bytes: its size classes round up by less than a quarter plus 16.
func cost(n int) int64 {
	return int64(n) + int64(n)/4 + 16
}

// Costs of what decode allocates: a boxed number (8 bytes), a boxed
// string header (16) or slice header (24), a boxed DictEntry or Variant
// (32), a parsed type node (gvType and its share of a parent's elems,
// the cache entry: 160 is generous).
var (
	costNumber  = cost(8)
	costString  = cost(16)
	costSlice   = cost(24)
	costBoxed32 = cost(32)
)

const costTypeChar = 160

// leastCost is the least decode charges for a value of type t, whatever
// the data: the bound arrays check before allocating their elements.
func leastCost(t *gvType) int64 {
	switch t.kind {
	case 'b', 'y', 'm':
		return 0
	case 'n', 'q', 'i', 'u', 'h', 'x', 't', 'd':
		return costNumber
	case 's', 'o', 'g':
		return costString + cost(0)
	case 'v':
		return costBoxed32
	case 'a':
		return costSlice
	}
	c := costSlice + cost(16*len(t.elems))
	if t.kind == '{' {
		c += costBoxed32
	}
	for _, e := range t.elems {
		c += e.least
	}
	return c
}

// Decode decodes data as a value of type sig. Values map to Go as: b bool,
// y byte, n int16, q uint16, i and h int32, u uint32, x int64, t uint64,
// d float64, s/o/g string, v Variant, ay []byte (sharing data's memory),
// other arrays []any (of DictEntry for dictionaries), tuples []any, maybe
// nil or the value. Data whose values would take more than maxExpansion
// bytes of memory per input byte is refused with ErrTooLarge.
func Decode(sig string, data []byte) (any, error) {
	t, err := parseTypeString(sig)
	if err != nil {
		return nil, err
	}
	return newDecoder(len(data)).decode(t, data, 0)
}

// DecodeVarDict decodes data as a{sv}.
func DecodeVarDict(data []byte) (VarDict, error) {
	v, err := newDecoder(len(data)).decode(typeVarDict, data, 0)
	if err != nil {
		return nil, err
	}
	return toVarDict(v), nil
}

var typeVarDict = mustType("a{sv}")

func mustType(sig string) *gvType {
	t, err := parseTypeString(sig)
	if err != nil {
		panic(err)
	}
	return t
}

// toVarDict converts a decoded a{sv}; later duplicates win, as in
// g_variant_lookup's linear search they would not, but ostree never
// writes duplicates.
func toVarDict(v any) VarDict {
	entries, _ := v.([]any)
	d := make(VarDict, len(entries))
	for _, e := range entries {
		de, ok := e.(DictEntry)
		if !ok {
			continue
		}
		k, _ := de.Key.(string)
		val, _ := de.Value.(Variant)
		if _, dup := d[k]; !dup {
			d[k] = val
		}
	}
	return d
}

func (d *decoder) decode(t *gvType, data []byte, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("value nested deeper than %d", maxDepth)
	}
	if t.fixed >= 0 && len(data) != t.fixed {
		return nil, fmt.Errorf("value of type %s has %d bytes, want %d", t.sig, len(data), t.fixed)
	}
	switch t.kind {
	case 'b':
		switch data[0] {
		case 0:
			return false, nil
		case 1:
			return true, nil
		}
		return nil, fmt.Errorf("boolean byte is %d, not 0 or 1", data[0])
	case 'y':
		return data[0], nil
	case 's', 'o', 'g':
		if err := d.charge(costString + cost(len(data))); err != nil {
			return nil, err
		}
		return decodeString(data)
	case 'v':
		return d.decodeVariant(data, depth)
	case 'm':
		return d.decodeMaybe(t, data, depth)
	case 'a':
		return d.decodeArray(t, data, depth)
	case '(', '{':
		return d.decodeTuple(t, data, depth)
	}
	if err := d.charge(costNumber); err != nil {
		return nil, err
	}
	switch t.kind {
	case 'n':
		return int16(binary.LittleEndian.Uint16(data)), nil
	case 'q':
		return binary.LittleEndian.Uint16(data), nil
	case 'i', 'h':
		return int32(binary.LittleEndian.Uint32(data)), nil
	case 'u':
		return binary.LittleEndian.Uint32(data), nil
	case 'x':
		return int64(binary.LittleEndian.Uint64(data)), nil
	case 't':
		return binary.LittleEndian.Uint64(data), nil
	case 'd':
		return math.Float64frombits(binary.LittleEndian.Uint64(data)), nil
	}
	return nil, fmt.Errorf("unsupported type %s", t.sig)
}

func decodeString(data []byte) (string, error) {
	if len(data) == 0 || data[len(data)-1] != 0 {
		return "", fmt.Errorf("string is not nul-terminated")
	}
	s := data[:len(data)-1]
	for _, b := range s {
		if b == 0 {
			return "", fmt.Errorf("string contains a nul byte")
		}
	}
	return string(s), nil
}

func (d *decoder) decodeVariant(data []byte, depth int) (Variant, error) {
	// The value, a nul byte, then the type string: search backwards.
	i := len(data) - 1
	for i >= 0 && data[i] != 0 {
		i--
	}
	if i < 0 {
		return Variant{}, fmt.Errorf("variant has no type string separator")
	}
	if err := d.charge(costBoxed32); err != nil {
		return Variant{}, err
	}
	t, ok := d.types[string(data[i+1:])] // no allocation for the lookup
	if !ok {
		if err := d.charge(cost(len(data)-i-1) + costTypeChar*int64(len(data)-i-1)); err != nil {
			return Variant{}, err
		}
		sig := string(data[i+1:])
		var rest string
		var err error
		t, rest, err = parseType(sig, depth+1)
		if err != nil {
			return Variant{}, fmt.Errorf("variant type: %w", err)
		}
		if rest != "" {
			return Variant{}, fmt.Errorf("variant type %q is not one complete type", sig)
		}
		d.types[sig] = t
	}
	v, err := d.decode(t, data[:i], depth+1)
	if err != nil {
		return Variant{}, fmt.Errorf("variant of type %s: %w", t.sig, err)
	}
	return Variant{Type: t.sig, Value: v}, nil
}

func (d *decoder) decodeMaybe(t *gvType, data []byte, depth int) (any, error) {
	if len(data) == 0 {
		return nil, nil
	}
	e := t.elems[0]
	if e.fixed >= 0 {
		return d.decode(e, data, depth+1)
	}
	if data[len(data)-1] != 0 {
		return nil, fmt.Errorf("maybe of type %s lacks its trailing nul byte", t.sig)
	}
	return d.decode(e, data[:len(data)-1], depth+1)
}

// elements charges for an array of n elements of type e before it is
// allocated: its slots, and the least its elements will charge, so an
// array of tiny elements (a(), ab) too many for the budget is refused
// before any is made.
func (d *decoder) elements(e *gvType, n int) ([]any, error) {
	if e.least > 0 && int64(n) > d.budget/e.least {
		return nil, d.refuse()
	}
	if err := d.charge(costSlice + cost(16*n)); err != nil {
		return nil, err
	}
	return make([]any, 0, n), nil
}

func (d *decoder) decodeArray(t *gvType, data []byte, depth int) (any, error) {
	e := t.elems[0]
	if e.kind == 'y' {
		// ay is the input's own bytes: no copy, no value per byte.
		if err := d.charge(costSlice); err != nil {
			return nil, err
		}
		return data[:len(data):len(data)], nil
	}
	if len(data) == 0 {
		return d.elements(e, 0)
	}
	if e.fixed >= 0 {
		if len(data)%e.fixed != 0 {
			return nil, fmt.Errorf("array of %s has %d bytes, not a multiple of %d", e.sig, len(data), e.fixed)
		}
		n := len(data) / e.fixed
		out, err := d.elements(e, n)
		if err != nil {
			return nil, fmt.Errorf("array of %d %s: %w", n, e.sig, err)
		}
		for i := 0; i < n; i++ {
			v, err := d.decode(e, data[i*e.fixed:(i+1)*e.fixed], depth+1)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			out = append(out, v)
		}
		return out, nil
	}
	osz := offsetSize(len(data))
	last := readOffset(data[len(data)-osz:])
	if last > len(data) {
		return nil, fmt.Errorf("array of %s: framing offset %d beyond its %d bytes", e.sig, last, len(data))
	}
	table := data[last:]
	if len(table)%osz != 0 || len(table) == 0 {
		return nil, fmt.Errorf("array of %s: framing offset table of %d bytes is not a multiple of %d", e.sig, len(table), osz)
	}
	n := len(table) / osz
	out, err := d.elements(e, n)
	if err != nil {
		return nil, fmt.Errorf("array of %d %s: %w", n, e.sig, err)
	}
	start := 0
	for i := 0; i < n; i++ {
		end := readOffset(table[i*osz : (i+1)*osz])
		start = alignUp(start, e.align)
		if start > end || end > last {
			return nil, fmt.Errorf("array of %s: element %d spans %d..%d outside 0..%d", e.sig, i, start, end, last)
		}
		v, err := d.decode(e, data[start:end], depth+1)
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		out = append(out, v)
		start = end
	}
	return out, nil
}

func (d *decoder) decodeTuple(t *gvType, data []byte, depth int) (any, error) {
	osz := offsetSize(len(data))
	offsetsEnd := len(data)
	pos := 0
	c := costSlice + cost(16*len(t.elems))
	if t.kind == '{' {
		c += costBoxed32
	}
	if err := d.charge(c); err != nil {
		return nil, err
	}
	out := make([]any, 0, len(t.elems))
	for i, e := range t.elems {
		pos = alignUp(pos, e.align)
		var end int
		switch {
		case e.fixed >= 0:
			end = pos + e.fixed
		case i == len(t.elems)-1:
			end = offsetsEnd
		default:
			if offsetsEnd-osz < 0 || osz == 0 {
				return nil, fmt.Errorf("%s: no room for the framing offset of member %d", t.sig, i)
			}
			offsetsEnd -= osz
			end = readOffset(data[offsetsEnd : offsetsEnd+osz])
		}
		if pos > end || end > offsetsEnd {
			return nil, fmt.Errorf("%s: member %d spans %d..%d outside 0..%d", t.sig, i, pos, end, offsetsEnd)
		}
		v, err := d.decode(e, data[pos:end], depth+1)
		if err != nil {
			return nil, fmt.Errorf("%s member %d: %w", t.sig, i, err)
		}
		out = append(out, v)
		pos = end
	}
	if t.kind == '{' {
		return DictEntry{Key: out[0], Value: out[1]}, nil
	}
	return out, nil
}
