package conf

import (
	"cmp"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// node is one value of a parsed file together with the key it was found
// under and the token that says where.
type node struct {
	key string // as written in the file; for array elements, the array's key
	tk  token  // never nil once made by child or top
	v   any    // the bare value: string, int64, float64, bool, time.Time, []any or map[string]any
}

// child wraps raw, a value found inside parent, into a node. Values that
// came through an environment variable are not tokens; they take the place
// of the token that referred to them.
func child(parent node, key string, raw any) node {
	if tk, ok := raw.(token); ok {
		return node{key: key, tk: tk, v: tk.Value()}
	}
	return node{key: key, tk: parent.tk, v: raw}
}

// entries returns the keys of a map node in the order they appear, so that
// the last of two spellings of one setting wins and errors come out in file
// order.
func entries(n node, m map[string]any) []node {
	out := make([]node, 0, len(m))
	for k, raw := range m {
		out = append(out, child(n, k, raw))
	}
	slices.SortFunc(out, func(a, b node) int {
		if c := cmp.Compare(a.tk.Line(), b.tk.Line()); c != 0 {
			return c
		}
		if c := cmp.Compare(a.tk.Position(), b.tk.Position()); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	return out
}

// elements returns the elements of an array node.
func elements(n node, a []any) []node {
	out := make([]node, 0, len(a))
	for _, raw := range a {
		out = append(out, startOfMap(child(n, n.key, raw)))
	}
	return out
}

// startOfMap places a map found in an array at its first key. The parser
// gives such a map the place of its closing brace, which is a poor place
// to point at when a whole entry (a user, a remote) is wrong.
func startOfMap(n node) node {
	m, ok := n.v.(map[string]any)
	if !ok || len(m) == 0 {
		return n
	}
	first := entries(n, m)[0].tk
	if first.SourceFile() != n.tk.SourceFile() {
		return n
	}
	n.tk = movedToken{token: n.tk, line: first.Line(), pos: first.Position()}
	return n
}

// movedToken is a token with another place.
type movedToken struct {
	token
	line, pos int
}

func (t movedToken) Line() int     { return t.line }
func (t movedToken) Position() int { return t.pos }

// describe names a value's type and shows it, for error messages.
func describe(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("string %q", v)
	case int64:
		return fmt.Sprintf("integer %d", v)
	case float64:
		return fmt.Sprintf("number %v", v)
	case bool:
		return fmt.Sprintf("boolean %t", v)
	case map[string]any:
		return "a map"
	case []any:
		return "an array"
	case time.Time:
		return "date " + v.Format(time.RFC3339)
	default:
		return fmt.Sprintf("%T", v)
	}
}

// mapOf returns a map node's map, or reports that it is not one.
func (l *loader) mapOf(n node) (map[string]any, bool) {
	m, ok := n.v.(map[string]any)
	if !ok {
		l.invalid(n, "expected a map, got %s", describe(n.v))
	}
	return m, ok
}

// arrayOf returns an array node's elements, or reports that it is not one.
func (l *loader) arrayOf(n node) ([]node, bool) {
	a, ok := n.v.([]any)
	if !ok {
		l.invalid(n, "expected an array, got %s", describe(n.v))
		return nil, false
	}
	return elements(n, a), true
}

func (l *loader) str(n node) (string, bool) {
	s, ok := n.v.(string)
	if !ok {
		l.invalid(n, "expected a string, got %s", describe(n.v))
	}
	return s, ok
}

func (l *loader) boolean(n node) (bool, bool) {
	b, ok := n.v.(bool)
	if !ok {
		l.invalid(n, "expected true or false, got %s", describe(n.v))
	}
	return b, ok
}

func (l *loader) integer(n node) (int64, bool) {
	i, ok := n.v.(int64)
	if !ok {
		l.invalid(n, "expected an integer, got %s", describe(n.v))
	}
	return i, ok
}

// intIn reads an integer in [lo, hi].
func (l *loader) intIn(n node, lo, hi int64) (int64, bool) {
	i, ok := l.integer(n)
	if !ok {
		return 0, false
	}
	if i < lo || i > hi {
		l.invalid(n, "%d is out of range [%d, %d]", i, lo, hi)
		return 0, false
	}
	return i, true
}

// port reads a port: 0 means the default, -1 a random port.
func (l *loader) port(n node) (int, bool) {
	p, ok := l.intIn(n, -1, 65535)
	return int(p), ok
}

// size reads a byte count. The lexer already turns unquoted 1MB, 64mb and
// 1k into integers (k = 1000, kb = 1024); a quoted "1MB" is accepted too,
// with the same suffixes.
func (l *loader) size(n node, hi int64) (int64, bool) {
	var v int64
	switch x := n.v.(type) {
	case int64:
		v = x
	case string:
		var err error
		if v, err = parseSize(x); err != nil {
			l.invalid(n, "%v", err)
			return 0, false
		}
	default:
		l.invalid(n, "expected a size such as 1048576 or 1MB, got %s", describe(n.v))
		return 0, false
	}
	if v < 0 {
		l.invalid(n, "size %d is negative", v)
		return 0, false
	}
	if v > hi {
		l.invalid(n, "%d is too big (at most %d)", v, hi)
		return 0, false
	}
	return v, true
}

// sizeUnit returns the multiplier nats-server's lexer gives a number
// suffix: k = 1000, kb = ki = kib = 1024, and so on up to tera.
func sizeUnit(suffix string) (int64, bool) {
	switch suffix {
	case "":
		return 1, true
	case "k":
		return 1000, true
	case "kb", "ki", "kib":
		return 1 << 10, true
	case "m":
		return 1000 * 1000, true
	case "mb", "mi", "mib":
		return 1 << 20, true
	case "g":
		return 1000 * 1000 * 1000, true
	case "gb", "gi", "gib":
		return 1 << 30, true
	case "t":
		return 1000 * 1000 * 1000 * 1000, true
	case "tb", "ti", "tib":
		return 1 << 40, true
	}
	return 0, false
}

func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || i == 0 && t[i] == '-') {
		i++
	}
	num, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("cannot read size %q", s)
	}
	mult, ok := sizeUnit(strings.ToLower(strings.TrimSpace(t[i:])))
	if !ok {
		return 0, fmt.Errorf("cannot read size %q: unknown unit", s)
	}
	if num != 0 && (num > math.MaxInt64/mult || num < math.MinInt64/mult) {
		return 0, fmt.Errorf("size %q is out of range", s)
	}
	return num * mult, nil
}

// duration reads a duration as nats-server does: a string such as "2m" or
// "500ms", or, for older files, a number of seconds, which earns the same
// warning nats-server gives.
func (l *loader) duration(n node) (time.Duration, bool) {
	switch x := n.v.(type) {
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(x))
		if err != nil {
			l.invalid(n, "cannot read duration %q: use a number and a unit, such as \"2m\" or \"500ms\"", x)
			return 0, false
		}
		return d, true
	case int64:
		l.warnAt(n, "invalid use of field %q: %s should be converted to a duration", n.key, n.key)
		if x > math.MaxInt64/int64(time.Second) || x < math.MinInt64/int64(time.Second) {
			l.invalid(n, "%d seconds is out of range", x)
			return 0, false
		}
		return time.Duration(x) * time.Second, true
	case float64:
		l.warnAt(n, "invalid use of field %q: %s should be converted to a duration", n.key, n.key)
		return time.Duration(x * float64(time.Second)), true
	default:
		l.invalid(n, "expected a duration such as \"2m\", got %s", describe(n.v))
		return 0, false
	}
}

// nonNegDuration is duration that refuses negative values.
func (l *loader) nonNegDuration(n node) (time.Duration, bool) {
	d, ok := l.duration(n)
	if ok && d < 0 {
		l.invalid(n, "duration %v is negative", d)
		return 0, false
	}
	return d, ok
}

// authTimeout reads an authorization timeout: seconds as an integer or a
// float, or a duration string. Like nats-server it warns above a minute,
// which usually means an unquoted 1m was read as one million.
func (l *loader) authTimeout(n node) (time.Duration, bool) {
	d, typed, err := seconds(n.v)
	switch {
	case !typed:
		l.invalid(n, "expected seconds or a duration such as \"2s\", got %s", describe(n.v))
		return 0, false
	case err != nil:
		l.invalid(n, "cannot read duration %q", n.v)
		return 0, false
	}
	if d < 0 {
		l.invalid(n, "timeout %v is negative", d)
		return 0, false
	}
	if d > time.Minute {
		l.warnAt(n, "invalid use of field %q: timeout of %v is high, consider keeping it under 60 seconds (an unquoted 1m is read as one million; write \"1m\")", n.key, d)
	}
	return d, true
}

// stringList reads one string or an array of strings.
func (l *loader) stringList(n node) ([]string, bool) {
	switch x := n.v.(type) {
	case string:
		return []string{x}, true
	case []any:
		out := make([]string, 0, len(x))
		ok := true
		for _, e := range elements(n, x) {
			s, isStr := e.v.(string)
			if !isStr {
				l.invalid(e, "expected a string in the array, got %s", describe(e.v))
				ok = false
				continue
			}
			out = append(out, s)
		}
		return out, ok
	default:
		l.invalid(n, "expected a string or an array of strings, got %s", describe(n.v))
		return nil, false
	}
}

// hostPort reads a listen value: a port alone or "host:port". The host is
// "" when only a port was given.
func (l *loader) hostPort(n node) (string, int, bool) {
	switch x := n.v.(type) {
	case int64:
		p, ok := l.port(n)
		return "", p, ok
	case string:
		host, ps, err := net.SplitHostPort(strings.TrimSpace(x))
		if err != nil {
			l.invalid(n, "cannot read address %q: expected host:port or a port", x)
			return "", 0, false
		}
		p, err := strconv.Atoi(ps)
		if err != nil || p < -1 || p > 65535 {
			l.invalid(n, "cannot read port %q in %q", ps, x)
			return "", 0, false
		}
		return host, p, true
	default:
		l.invalid(n, "expected a port or host:port, got %s", describe(n.v))
		return "", 0, false
	}
}

// seconds reads a timeout as nats-server's config writes them: seconds,
// as an integer or a fraction, or a duration string. typed is false for a
// value of any other type; err is a duration string's parse error.
func seconds(v any) (d time.Duration, typed bool, err error) {
	switch x := v.(type) {
	case int64:
		return time.Duration(x) * time.Second, true, nil
	case float64:
		return time.Duration(x * float64(time.Second)), true, nil
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(x))
		return d, true, err
	}
	return 0, false, nil
}
