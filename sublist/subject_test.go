package sublist

import (
	"strings"
	"testing"
)

func TestValidSubject(t *testing.T) {
	tests := []struct {
		subject        string
		valid, literal bool
	}{
		{"foo", true, true},
		{"foo.bar.baz", true, true},
		{"*", true, false},
		{">", true, false},
		{"foo.*", true, false},
		{"foo.>", true, false},
		{"*.bar.>", true, false},
		{"foo.*.*.>", true, false},
		{"foo*", true, true},   // '*' inside a token is literal
		{"*foo", true, true},   // likewise at the start
		{"a>b", true, true},    // '>' inside a token is literal
		{"foo.>x", true, true}, // so ">x" is an ordinary token
		{"foo.>x.bar", true, true},
		{"$SYS.REQ.SERVER.PING", true, true},
		{"_INBOX.abc.1", true, true},
		{"ümlaut.ß.日本", true, true},
		{"foo\x00bar", true, true}, // nats-server only rejects the five whitespace bytes
		{"foo\vbar", true, true},
		{"", false, false},
		{".", false, false},
		{"..", false, false},
		{".foo", false, false},
		{"foo.", false, false},
		{"foo..bar", false, false},
		{"foo.>.bar", false, false},
		{">.foo", false, false},
		{">.>", false, false},
		{"foo.>.>", false, false},
		{"foo bar", false, false},
		{"foo\tbar", false, false},
		{"foo\rbar", false, false},
		{"foo\nbar", false, false},
		{"foo\fbar", false, false},
		{" ", false, false},
		{"foo. ", false, false},
		{"*.\t", false, false},
	}
	for _, tc := range tests {
		if got := ValidSubject(tc.subject); got != tc.valid {
			t.Errorf("ValidSubject(%q) = %v, want %v", tc.subject, got, tc.valid)
		}
		if got := ValidLiteral(tc.subject); got != tc.literal {
			t.Errorf("ValidLiteral(%q) = %v, want %v", tc.subject, got, tc.literal)
		}
		if got := ValidLiteralBytes([]byte(tc.subject)); got != tc.literal {
			t.Errorf("ValidLiteralBytes(%q) = %v, want %v", tc.subject, got, tc.literal)
		}
		if tc.valid {
			if got := isLiteral(tc.subject); got != tc.literal {
				t.Errorf("isLiteral(%q) = %v, want %v", tc.subject, got, tc.literal)
			}
		}
	}
}

func TestValidQueue(t *testing.T) {
	for q, want := range map[string]bool{
		"q": true, "q.1": true, "workers": true, "a*b": true, ">": true,
		"": false, "q 1": false, "q\t": false, "\r": false, "q\n": false, "\fq": false,
	} {
		if got := ValidQueue(q); got != want {
			t.Errorf("ValidQueue(%q) = %v, want %v", q, got, want)
		}
	}
}

func TestMatches(t *testing.T) {
	tests := []struct {
		pattern, subject string
		want             bool
	}{
		{"foo", "foo", true},
		{"foo", "bar", false},
		{"foo", "foo.bar", false},
		{"foo.bar", "foo", false},
		{"*", "foo", true},
		{"*", "foo.bar", false},
		{">", "foo", true},
		{">", "foo.bar.baz", true},
		{"foo.*", "foo.bar", true},
		{"foo.*", "foo", false},
		{"foo.*", "foo.bar.baz", false},
		{"foo.>", "foo.bar", true},
		{"foo.>", "foo.bar.baz", true},
		{"foo.>", "foo", false}, // '>' needs at least one token
		{"*.bar", "foo.bar", true},
		{"*.bar", "foo.baz", false},
		{"foo.*.baz", "foo.bar.baz", true},
		{"foo.*.baz", "foo.bar.bax", false},
		{"*.*.>", "a.b", false},
		{"*.*.>", "a.b.c", true},
		// Wildcard characters inside a token are literal.
		{"foo*", "foo*", true},
		{"foo*", "foox", false},
		{"a>b", "a>b", true},
		{"a>b", "axb", false},
		// A published subject's wildcard tokens are taken literally.
		{"foo.*", "foo.*", true},
		{"foo.>", "foo.*", true},
		{"foo.bar", "foo.*", false},
		{"foo.*", "foo.>", true},
		{"foo.bar", "foo.>", false},
		{"*", ">", true},
		// Invalid input.
		{"foo..bar", "foo..bar", false},
		{"foo.>.bar", "foo.x.bar", false},
		{"foo", "", false},
		{"*", "", false},
		{">", "foo.", false},
		{">", ".foo", false},
		{"", "", false},
	}
	for _, tc := range tests {
		if got := Matches(tc.pattern, tc.subject); got != tc.want {
			t.Errorf("Matches(%q, %q) = %v, want %v", tc.pattern, tc.subject, got, tc.want)
		}
	}
}

func TestSubsetOf(t *testing.T) {
	tests := []struct {
		sub, pattern string
		want         bool
	}{
		{"foo.bar", "foo.bar", true},
		{"foo.bar", "foo.*", true},
		{"foo.bar", "foo.>", true},
		{"foo.bar", ">", true},
		{"foo.bar", "*.*", true},
		{"foo.*", "foo.>", true},
		{"foo.*", "foo.*", true},
		{"foo.*", "*.*", true},
		{"foo.*", "foo.bar", false},
		{"foo.>", "foo.*", false},
		{"foo.>", "foo.>", true},
		{"foo.>", ">", true},
		{"foo.>", "foo.*.>", false},
		{"foo.*.>", "foo.>", true},
		{">", "*", false},
		{">", ">", true},
		{"*", ">", true},
		{"*", "foo", false},
		{"foo", "foo.>", false},
		{"foo.bar", "foo", false},
		{"foo", "foo.bar", false},
		{"foo.bar", "foo.baz", false},
		{"*.bar", "foo.*", false},
		{"foo*", "foo*", true},
		{"foo*", "*", true},
		{"foo.bar", "foo..bar", false},
		{"foo..bar", ">", false},
	}
	for _, tc := range tests {
		if got := SubsetOf(tc.sub, tc.pattern); got != tc.want {
			t.Errorf("SubsetOf(%q, %q) = %v, want %v", tc.sub, tc.pattern, got, tc.want)
		}
	}
}

func TestOverlaps(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"foo", "foo", true},
		{"foo", "bar", false},
		{"foo.*", "*.bar", true},
		{"foo.*", "foo.bar", true},
		{"foo.*", "foo.bar.baz", false},
		{"foo.*", "foo.>", true},
		{"foo.>", "foo", false},
		{"foo.>", "*.*.baz", true},
		{">", "foo", true},
		{">", "*", true},
		{"*", "foo.bar", false},
		{"*.*", "foo.>", true},
		{"foo.*.baz", "foo.bar.*", true},
		{"foo.*.baz", "foo.bar.bax", false},
		{"a.*.c", "*.b.>", true},
		{"a.*", "b.*", false},
		{"foo", "foo.bar", false},
		{"foo*", "*", true},
		{"foo*", "foox", false},
		{"foo..bar", "foo..bar", false},
		{"", ">", false},
	}
	for _, tc := range tests {
		if got := Overlaps(tc.a, tc.b); got != tc.want {
			t.Errorf("Overlaps(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if got := Overlaps(tc.b, tc.a); got != tc.want {
			t.Errorf("Overlaps(%q, %q) = %v, want %v", tc.b, tc.a, got, tc.want)
		}
	}
}

// allSubjects returns every subject of 1 to maxLen tokens over alphabet.
func allSubjects(alphabet []string, maxLen int) []string {
	var out []string
	cur := []string{""}
	for n := 1; n <= maxLen; n++ {
		var next []string
		for _, prefix := range cur {
			for _, tok := range alphabet {
				s := tok
				if prefix != "" {
					s = prefix + "." + tok
				}
				next = append(next, s)
			}
		}
		out = append(out, next...)
		cur = next
	}
	return out
}

// TestSubjectRelationsOracle checks SubsetOf and Overlaps against their
// definitions through Matches, over every pattern of up to three tokens
// from a small alphabet and every subject of up to four tokens. The token
// "z" occurs in no pattern, so it stands for any other token.
func TestSubjectRelationsOracle(t *testing.T) {
	var patterns []string
	for _, p := range allSubjects([]string{"a", "b", "*", ">"}, 3) {
		if ValidSubject(p) {
			patterns = append(patterns, p)
		}
	}
	subjects := allSubjects([]string{"a", "b", "z"}, 4)
	matched := make(map[string][]bool, len(patterns))
	for _, p := range patterns {
		m := make([]bool, len(subjects))
		for i, s := range subjects {
			m[i] = Matches(p, s)
		}
		matched[p] = m
	}
	for _, a := range patterns {
		for _, b := range patterns {
			subset, overlap := true, false
			for i := range subjects {
				ma, mb := matched[a][i], matched[b][i]
				if ma && !mb {
					subset = false
				}
				if ma && mb {
					overlap = true
				}
			}
			if got := SubsetOf(a, b); got != subset {
				t.Errorf("SubsetOf(%q, %q) = %v, oracle says %v", a, b, got, subset)
			}
			if got := Overlaps(a, b); got != overlap {
				t.Errorf("Overlaps(%q, %q) = %v, oracle says %v", a, b, got, overlap)
			}
		}
	}
}

func TestLiteralPrefix(t *testing.T) {
	tests := []struct {
		subject string
		k       int
		prefix  string
	}{
		{">", 0, ""},
		{"*", 0, ""},
		{"*.foo", 0, ""},
		{"foo.*", 1, "foo"},
		{"foo.>", 1, "foo"},
		{"foo.*.bar", 1, "foo"},
		{"foo.bar.*", 2, "foo.bar"},
		{"_INBOX.abc.>", 2, "_INBOX.abc"},
		{"a.b.c.*", 2, "a.b"},
	}
	for _, tc := range tests {
		k, prefix := literalPrefix(tc.subject)
		if k != tc.k || prefix != tc.prefix {
			t.Errorf("literalPrefix(%q) = %d, %q, want %d, %q", tc.subject, k, prefix, tc.k, tc.prefix)
		}
		// The prefix must be spelled exactly as a published subject's first
		// tokens are, or the cache would bump a bucket no entry looks at.
		if k > 0 && !strings.HasPrefix(tc.subject, tc.prefix+".") {
			t.Errorf("prefix %q is not a token prefix of %q", tc.prefix, tc.subject)
		}
	}
}
