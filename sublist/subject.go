package sublist

import "strings"

// Subject syntax, as nats-server v2.15.2 accepts it: tokens separated by
// '.', every token non-empty and free of whitespace; "*" as a whole token
// matches exactly one token, ">" as a whole token matches one or more and
// may only be the last token. A '*' or '>' inside a longer token is an
// ordinary character.

const (
	sep      = '.'
	starTok  = "*"
	fullTok  = ">"
	maxStack = 32 // tokens kept on the stack before a slice spills to the heap
)

// isSpace reports whether c is one of the whitespace bytes that may not
// appear in a subject or queue name. nats-server rejects exactly these
// five, so Canopy does too; other control bytes pass.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f'
}

// ValidSubject reports whether subject is acceptable to SUB: non-empty
// tokens without whitespace, and ">" only as the last token.
func ValidSubject(subject string) bool {
	return validSubject(subject, false)
}

// ValidLiteral reports whether subject is a valid subject without wildcard
// tokens, which is what a pedantic server requires of PUB.
func ValidLiteral(subject string) bool {
	return validSubject(subject, true)
}

// ValidLiteralBytes is ValidLiteral for a subject still in the parser's
// buffer. It exists because the pedantic check runs once per PUB, and
// converting a subject longer than 32 bytes to a string would allocate.
func ValidLiteralBytes(subject []byte) bool {
	return validSubject(subject, true)
}

// ValidQueue reports whether queue is usable as a queue group name: non-empty
// and without whitespace. nats-server checks nothing else; dots are fine.
func ValidQueue(queue string) bool {
	if queue == "" {
		return false
	}
	for i := 0; i < len(queue); i++ {
		if isSpace(queue[i]) {
			return false
		}
	}
	return true
}

// validSubject is generic so that the string and []byte entry points share
// one loop without converting (and so without allocating).
func validSubject[S ~string | ~[]byte](subject S, literal bool) bool {
	if len(subject) == 0 {
		return false
	}
	start := 0
	sawFull := false
	for i := 0; i <= len(subject); i++ {
		if i < len(subject) && subject[i] != sep {
			if isSpace(subject[i]) {
				return false
			}
			continue
		}
		// A token ends at i. Any token after ">" makes the subject invalid,
		// as does an empty token.
		if i == start || sawFull {
			return false
		}
		if i-start == 1 {
			switch subject[start] {
			case '>':
				if literal {
					return false
				}
				sawFull = true
			case '*':
				if literal {
					return false
				}
			}
		}
		start = i + 1
	}
	return true
}

// isLiteral reports whether a subject already known to be valid has no
// wildcard token.
func isLiteral(subject string) bool {
	for i := 0; i < len(subject); i++ {
		c := subject[i]
		if (c == '*' || c == '>') && (i == 0 || subject[i-1] == sep) &&
			(i+1 == len(subject) || subject[i+1] == sep) {
			return false
		}
	}
	return true
}

// hasEmptyToken reports whether a publish subject cannot match anything
// because one of its tokens is empty (or the subject itself is).
func hasEmptyToken(subject string) bool {
	if subject == "" || subject[0] == sep || subject[len(subject)-1] == sep {
		return true
	}
	return strings.Contains(subject, "..")
}

// Matches reports whether the wildcard pattern matches subject. The
// subject's tokens are taken literally, exactly as Sublist.Match takes a
// published subject: a subject token "*" or ">" is matched only by a
// wildcard in the pattern, never by a literal pattern token. It is false
// when pattern is not a valid subject or subject has an empty token.
func Matches(pattern, subject string) bool {
	if !ValidSubject(pattern) || hasEmptyToken(subject) {
		return false
	}
	for {
		pt, prest, pmore := strings.Cut(pattern, ".")
		st, srest, smore := strings.Cut(subject, ".")
		switch {
		case pt == fullTok:
			return true
		case pt != starTok && pt != st:
			return false
		}
		if !pmore || !smore {
			return pmore == smore
		}
		pattern, subject = prest, srest
	}
}

// SubsetOf reports whether every subject that sub matches is also matched by
// pattern: "foo.bar" ⊆ "foo.*" ⊆ "foo.>", but "foo.>" ⊄ "foo.*". Both must
// be valid subjects; it is false otherwise.
func SubsetOf(sub, pattern string) bool {
	if !ValidSubject(sub) || !ValidSubject(pattern) {
		return false
	}
	for {
		st, srest, smore := strings.Cut(sub, ".")
		pt, prest, pmore := strings.Cut(pattern, ".")
		switch {
		case pt == fullTok:
			return true
		case st == fullTok:
			// sub matches longer subjects here than any token but ">" can.
			return false
		case pt == starTok:
		case st == starTok || st != pt:
			return false
		}
		if !smore || !pmore {
			return smore == pmore
		}
		sub, pattern = srest, prest
	}
}

// Overlaps reports whether some subject is matched by both wildcard patterns,
// for example "foo.*" and "*.bar" (both match "foo.bar"). Both must be valid
// subjects; it is false otherwise.
func Overlaps(a, b string) bool {
	if !ValidSubject(a) || !ValidSubject(b) {
		return false
	}
	for {
		at, arest, amore := strings.Cut(a, ".")
		bt, brest, bmore := strings.Cut(b, ".")
		switch {
		case at == fullTok || bt == fullTok:
			return true
		case at == starTok || bt == starTok:
		case at != bt:
			return false
		}
		if !amore || !bmore {
			return amore == bmore
		}
		a, b = arest, brest
	}
}

// literalPrefix returns how many leading tokens of a valid wildcard subject
// are literal, counting at most two, and the text of those tokens (without
// the trailing separator). The cache invalidates by this prefix; see the
// package documentation.
func literalPrefix(subject string) (int, string) {
	end := 0
	for k := 0; k < 2; k++ {
		rest := subject[end:]
		i := strings.IndexByte(rest, sep)
		tok := rest
		if i >= 0 {
			tok = rest[:i]
		}
		if tok == starTok || tok == fullTok {
			if k == 0 {
				return 0, ""
			}
			return k, subject[:end-1]
		}
		if i < 0 {
			// Only reached for a literal subject, which callers exclude;
			// answer sensibly anyway.
			return k + 1, subject
		}
		end += i + 1
	}
	return 2, subject[:end-1]
}
