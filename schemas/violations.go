package schemas

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

var printer = message.NewPrinter(language.English)

// Violation is one failed rule of a schema: where in the instance, and what
// rule failed, in words a model or an operator can act on.
type Violation struct {
	// Pointer is the JSON pointer of the offending value ("/" for the root).
	Pointer string
	// Path is Pointer as its path segments (nil for the root).
	Path []string
	// Rule is the failed rule and the values involved, e.g.
	// "maximum: got 900, want 300".
	Rule string
}

// String formats v as "/timeout_s: maximum: got 900, want 300".
func (v Violation) String() string { return v.Pointer + ": " + v.Rule }

// Violations flattens a jsonschema validation error into its leaf
// violations, sorted by pointer. An error that is not a validation error
// yields a single violation at the root carrying its text.
func Violations(err error) []Violation {
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []Violation{{Pointer: "/", Rule: err.Error()}}
	}
	var out []Violation
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, Violation{
				Pointer: Pointer(e.InstanceLocation),
				Path:    e.InstanceLocation,
				Rule:    rule(e.ErrorKind),
			})
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Pointer < out[j].Pointer })
	return out
}

// rule describes a failed keyword. Numeric bounds are formatted here, not
// by the locale printer, which would group digits ("got 9,000") in a way
// that reads like a list and that a model cannot paste back as a number.
func rule(k jsonschema.ErrorKind) string {
	rat := func(name string, got, want *big.Rat, cmp string) string {
		g, _ := got.Float64()
		w, _ := want.Float64()
		return fmt.Sprintf("%s: got %s, want %s%s", name, num(g), cmp, num(w))
	}
	ints := func(name string, got, want int) string {
		return fmt.Sprintf("%s: got %d, want %d", name, got, want)
	}
	switch k := k.(type) {
	case *kind.Minimum:
		return rat("minimum", k.Got, k.Want, "")
	case *kind.Maximum:
		return rat("maximum", k.Got, k.Want, "")
	case *kind.ExclusiveMinimum:
		return rat("exclusiveMinimum", k.Got, k.Want, "> ")
	case *kind.ExclusiveMaximum:
		return rat("exclusiveMaximum", k.Got, k.Want, "< ")
	case *kind.MultipleOf:
		return rat("multipleOf", k.Got, k.Want, "a multiple of ")
	case *kind.MinLength:
		return ints("minLength", k.Got, k.Want)
	case *kind.MaxLength:
		return ints("maxLength", k.Got, k.Want)
	case *kind.MinItems:
		return ints("minItems", k.Got, k.Want)
	case *kind.MaxItems:
		return ints("maxItems", k.Got, k.Want)
	case *kind.MinProperties:
		return ints("minProperties", k.Got, k.Want)
	case *kind.MaxProperties:
		return ints("maxProperties", k.Got, k.Want)
	}
	return k.LocalizedString(printer)
}

// num formats a float without grouping, and without an exponent unless it
// is huge: 900, 0.5, 1000000, 1e+21.
func num(f float64) string {
	if math.Abs(f) < 1e15 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// Pointer renders path segments as a JSON pointer (RFC 6901), "/" for the
// root.
func Pointer(path []string) string {
	if len(path) == 0 {
		return "/"
	}
	var b strings.Builder
	for _, seg := range path {
		b.WriteByte('/')
		seg = strings.ReplaceAll(seg, "~", "~0")
		b.WriteString(strings.ReplaceAll(seg, "/", "~1"))
	}
	return b.String()
}
