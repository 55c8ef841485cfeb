package ostree

import (
	"encoding/binary"
	"fmt"
	"math"
	"testing"
)

// encode serialises v as a value of type sig, the inverse of Decode (the
// same Go mapping), so tests can build large or hostile commits without
// GLib. It writes the canonical form GLib writes: framing offsets of the
// smallest width that can address the container.
func encode(t testing.TB, sig string, v any) []byte {
	t.Helper()
	ty, err := parseTypeString(sig)
	if err != nil {
		t.Fatal(err)
	}
	b, err := encodeValue(ty, v)
	if err != nil {
		t.Fatalf("encoding %s: %v", sig, err)
	}
	return b
}

func encodeValue(t *gvType, v any) ([]byte, error) {
	le := binary.LittleEndian
	switch t.kind {
	case 'b':
		if v.(bool) {
			return []byte{1}, nil
		}
		return []byte{0}, nil
	case 'y':
		return []byte{v.(byte)}, nil
	case 'n':
		return le.AppendUint16(nil, uint16(v.(int16))), nil
	case 'q':
		return le.AppendUint16(nil, v.(uint16)), nil
	case 'i', 'h':
		return le.AppendUint32(nil, uint32(v.(int32))), nil
	case 'u':
		return le.AppendUint32(nil, v.(uint32)), nil
	case 'x':
		return le.AppendUint64(nil, uint64(v.(int64))), nil
	case 't':
		return le.AppendUint64(nil, v.(uint64)), nil
	case 'd':
		return le.AppendUint64(nil, math.Float64bits(v.(float64))), nil
	case 's', 'o', 'g':
		return append([]byte(v.(string)), 0), nil
	case 'v':
		va := v.(Variant)
		et, err := parseTypeString(va.Type)
		if err != nil {
			return nil, err
		}
		b, err := encodeValue(et, va.Value)
		if err != nil {
			return nil, err
		}
		return append(append(b, 0), va.Type...), nil
	case 'm':
		if v == nil {
			return nil, nil
		}
		b, err := encodeValue(t.elems[0], v)
		if err != nil || t.elems[0].fixed >= 0 {
			return b, err
		}
		return append(b, 0), nil
	case 'a':
		e := t.elems[0]
		if e.kind == 'y' {
			return append([]byte(nil), v.([]byte)...), nil
		}
		var body []byte
		var ends []int
		for _, x := range v.([]any) {
			body = pad(body, e.align)
			b, err := encodeValue(e, x)
			if err != nil {
				return nil, err
			}
			body = append(body, b...)
			ends = append(ends, len(body))
		}
		if e.fixed >= 0 {
			return body, nil
		}
		return frame(body, ends), nil
	case '(', '{':
		var members []any
		if de, ok := v.(DictEntry); ok {
			members = []any{de.Key, de.Value}
		} else {
			members = v.([]any)
		}
		if len(members) != len(t.elems) {
			return nil, fmt.Errorf("%s: %d members, want %d", t.sig, len(members), len(t.elems))
		}
		if len(members) == 0 {
			return []byte{0}, nil
		}
		var body []byte
		var ends []int
		for i, e := range t.elems {
			body = pad(body, e.align)
			b, err := encodeValue(e, members[i])
			if err != nil {
				return nil, err
			}
			body = append(body, b...)
			if e.fixed < 0 && i != len(t.elems)-1 {
				ends = append(ends, len(body))
			}
		}
		if t.fixed >= 0 {
			return pad(body, t.align), nil
		}
		// A tuple's offsets are written last member first.
		for i, j := 0, len(ends)-1; i < j; i, j = i+1, j-1 {
			ends[i], ends[j] = ends[j], ends[i]
		}
		return frame(body, ends), nil
	}
	return nil, fmt.Errorf("unsupported type %s", t.sig)
}

func pad(b []byte, align int) []byte {
	for len(b)%align != 0 {
		b = append(b, 0)
	}
	return b
}

// frame appends the framing offsets ends to body in the smallest width
// that addresses the whole container.
func frame(body []byte, ends []int) []byte {
	if len(ends) == 0 {
		return body
	}
	for _, w := range []int{1, 2, 4, 8} {
		if offsetSize(len(body)+len(ends)*w) > w {
			continue
		}
		for _, e := range ends {
			var buf [8]byte
			binary.LittleEndian.PutUint64(buf[:], uint64(e))
			body = append(body, buf[:w]...)
		}
		return body
	}
	panic("unreachable")
}

// commitWithMetadata serialises a commit whose metadata is md.
func commitWithMetadata(t testing.TB, md []any) []byte {
	return encode(t, "(a{sv}aya(say)sstayay)", []any{
		md, []byte{}, []any{}, "subject", "", uint64(0), make([]byte, 32), make([]byte, 32),
	})
}

func TestEncodeRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		sig string
		v   any
	}{
		{"as", []any{"a", "bc"}},
		{"(sb)", []any{"hi", true}},
		{"a{sv}", []any{DictEntry{Key: "k", Value: Variant{Type: "u", Value: uint32(5)}}}},
		{"()", []any{}},
		{"a()", []any{[]any{}, []any{}}},
	} {
		got, err := Decode(tc.sig, encode(t, tc.sig, tc.v))
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.v) {
			t.Errorf("%s: %v %v, want %v", tc.sig, got, err, tc.v)
		}
	}
	// The GLib bytes of TestDecodeGLibBytes.
	if got := fmt.Sprintf("%x", encode(t, "as", []any{"a", "bc"})); got != "61006263000205" {
		t.Errorf("as: %s", got)
	}
	if got := fmt.Sprintf("%x", encode(t, "a{sv}", []any{DictEntry{Key: "k", Value: Variant{Type: "u", Value: uint32(5)}}})); got != "6b00000000000000050000000075020f" {
		t.Errorf("a{sv}: %s", got)
	}
	data := commitWithMetadata(t, []any{DictEntry{Key: "version", Value: Variant{Type: "s", Value: "28.1"}}})
	c, err := ParseCommit("enc", data)
	if err != nil || c.Version() != "28.1" || c.Subject != "subject" {
		t.Fatalf("%+v %v", c, err)
	}
}
