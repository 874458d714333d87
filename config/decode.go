package config

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// decoder turns the generic tree viper reads from YAML (maps, slices and
// scalars) into the typed Config, strictly: every key must name a field, every
// value must fit its field's type and range. Errors carry the field's path
// ("bgp.neighbors[1].asn") and the offending value, and decoding carries on so
// that one run reports every problem in the file.
//
// It replaces viper's mapstructure-based Unmarshal because that silently
// wraps out-of-range integers (asn: 99999999999 into a uint32) and accepts
// -1 for unsigned fields; a router must refuse those.
type decoder struct {
	errs Errors
}

var (
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	durationType        = reflect.TypeFor[time.Duration]()
)

func (d *decoder) fail(path string, value any, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{Path: path, Value: render(value), Reason: fmt.Sprintf(format, args...)})
}

// decode stores in into out (which must be settable), reporting problems under path.
func (d *decoder) decode(path string, in any, out reflect.Value) {
	if in == nil {
		return // "key:" with no value keeps the default
	}
	if out.Kind() == reflect.Pointer {
		if out.IsNil() {
			out.Set(reflect.New(out.Type().Elem()))
		}
		d.decode(path, in, out.Elem())
		return
	}
	if out.CanAddr() && out.Addr().Type().Implements(textUnmarshalerType) {
		d.decodeText(path, in, out)
		return
	}
	if out.Type() == durationType {
		d.decodeDuration(path, in, out)
		return
	}
	switch out.Kind() {
	case reflect.Struct:
		d.decodeStruct(path, in, out)
	case reflect.Slice:
		d.decodeSlice(path, in, out)
	case reflect.String:
		s, ok := in.(string)
		if !ok {
			d.fail(path, in, "want a string")
			return
		}
		out.SetString(s)
	case reflect.Bool:
		b, ok := in.(bool)
		if !ok {
			d.fail(path, in, "want true or false")
			return
		}
		out.SetBool(b)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint:
		d.decodeUint(path, in, out)
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
		d.decodeInt(path, in, out)
	default:
		panic(fmt.Sprintf("config: field %s has unsupported type %s", path, out.Type()))
	}
}

func (d *decoder) decodeText(path string, in any, out reflect.Value) {
	var s string
	switch v := in.(type) {
	case string:
		s = v
	case int, int64, uint64, float64:
		s = fmt.Sprint(v) // a label or an ASN-shaped value written bare
	default:
		d.fail(path, in, "want a string")
		return
	}
	if err := out.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
		d.fail(path, in, "%v", err)
	}
}

func (d *decoder) decodeDuration(path string, in any, out reflect.Value) {
	s, ok := in.(string)
	if !ok {
		d.fail(path, in, "want a duration with a unit, such as 3s or 500ms")
		return
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		d.fail(path, in, "want a non-negative duration with a unit, such as 3s or 500ms")
		return
	}
	out.SetInt(int64(v))
}

func (d *decoder) decodeStruct(path string, in any, out reflect.Value) {
	m, ok := in.(map[string]any)
	if !ok {
		d.fail(path, in, "want a mapping of keys")
		return
	}
	fields := fieldsByKey(out.Type())
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		idx, ok := fields[k]
		if !ok {
			d.fail(join(path, k), nil, "unknown key (known: %s)", knownKeys(fields))
			continue
		}
		d.decode(join(path, k), m[k], out.Field(idx))
	}
}

func (d *decoder) decodeSlice(path string, in any, out reflect.Value) {
	list, ok := in.([]any)
	if !ok {
		d.fail(path, in, "want a list")
		return
	}
	s := reflect.MakeSlice(out.Type(), len(list), len(list))
	for i, item := range list {
		d.decode(fmt.Sprintf("%s[%d]", path, i), item, s.Index(i))
	}
	out.Set(s)
}

func (d *decoder) decodeUint(path string, in any, out reflect.Value) {
	limit := uint64(math.MaxUint64) >> (64 - out.Type().Bits())
	var u uint64
	switch v := in.(type) {
	case int:
		if v < 0 {
			d.fail(path, in, "must not be negative")
			return
		}
		u = uint64(v)
	case uint64:
		u = v
	case string:
		var err error
		if u, err = strconv.ParseUint(v, 10, 64); err != nil {
			d.fail(path, in, "want a whole number")
			return
		}
	default:
		d.fail(path, in, "want a whole number")
		return
	}
	if u > limit {
		d.fail(path, in, "out of range 0..%d", limit)
		return
	}
	out.SetUint(u)
}

func (d *decoder) decodeInt(path string, in any, out reflect.Value) {
	v, ok := in.(int)
	if !ok {
		d.fail(path, in, "want a whole number")
		return
	}
	if out.OverflowInt(int64(v)) {
		d.fail(path, in, "out of range for a %d-bit number", out.Type().Bits())
		return
	}
	out.SetInt(int64(v))
}

// fieldsByKey maps each YAML key of a struct (its `config` tag) to the field index.
func fieldsByKey(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("config"); tag != "" && tag != "-" {
			m[tag] = i
		}
	}
	return m
}

func knownKeys(fields map[string]int) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// render prints a YAML value for an error message, keeping it short.
func render(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return strconv.Quote(v)
	case map[string]any:
		return "{...}"
	case []any:
		return "[...]"
	default:
		return fmt.Sprint(v)
	}
}

// knownPath reports whether a dotted key path names a field of t.
func knownPath(t reflect.Type, path string) bool {
	for _, key := range strings.Split(path, ".") {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return false
		}
		idx, ok := fieldsByKey(t)[key]
		if !ok {
			return false
		}
		t = t.Field(idx).Type
	}
	return true
}
