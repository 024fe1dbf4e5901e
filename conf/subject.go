package conf

import (
	"strconv"
	"strings"
)

// validSubject reports whether s is a subject nats-server accepts in
// permissions, exports and imports: non-empty dot-separated tokens without
// whitespace, where ">" may only be the last token. The sublist package
// owns matching; this small copy of the rule keeps conf free of it.
func validSubject(s string) bool {
	if s == "" {
		return false
	}
	tokens := strings.Split(s, ".")
	for i, t := range tokens {
		if t == "" || strings.ContainsAny(t, " \t\r\n\f") {
			return false
		}
		if t == ">" && i != len(tokens)-1 {
			return false
		}
	}
	return true
}

// subsetOf reports whether every subject sub can match is also matched by
// super: "a.b" and "a.*" are subsets of "a.>", "a.>" is not a subset of
// "a.*". It decides whether an import is covered by an export.
func subsetOf(sub, super string) bool {
	st := strings.Split(sub, ".")
	pt := strings.Split(super, ".")
	for i, p := range pt {
		if p == ">" {
			return i < len(st)
		}
		if i >= len(st) {
			return false
		}
		s := st[i]
		switch {
		case s == ">":
			return false
		case p == "*":
		case s == "*" || s != p:
			return false
		}
	}
	return len(st) == len(pt)
}

func quote(s string) string { return strconv.Quote(s) }
