package auth

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// A distinguished name as verify_and_map compares them: RDNs in RFC 4514
// string order (most specific first), each a set of type=value pairs.
// Types compare without regard to case, values exactly, which is what
// nats-server's copy of go-ldap does.
type dn []rdn

type rdn []attr

type attr struct{ typ, val string }

// attrNames are the attribute types a certificate subject may use and be
// mapped by its DN; a subject with any other type cannot be, as in
// nats-server.
var attrNames = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.5":                    "SERIALNUMBER",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.9":                    "STREET",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.17":                   "POSTALCODE",
	"0.9.2342.19200300.100.1.25": "DC",
}

var dcOID = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}

// dnFromSubject reads a certificate's raw subject. The DER holds the RDNs
// from least to most specific, and a multi-valued RDN's values in order;
// both are reversed into string order, as nats-server does.
func dnFromSubject(raw []byte) (dn, error) {
	var seq pkix.RDNSequence
	if _, err := asn1.Unmarshal(raw, &seq); err != nil {
		return nil, err
	}
	out := make(dn, 0, len(seq))
	for i := len(seq) - 1; i >= 0; i-- {
		set := seq[i]
		if len(set) == 0 {
			continue
		}
		r := make(rdn, 0, len(set))
		for j := len(set) - 1; j >= 0; j-- {
			name, ok := attrNames[set[j].Type.String()]
			if !ok {
				return nil, fmt.Errorf("attribute type %s cannot be mapped", set[j].Type)
			}
			v, ok := set[j].Value.(string)
			if !ok {
				return nil, fmt.Errorf("attribute %s has a value that is not a string", name)
			}
			r = append(r, attr{typ: name, val: v})
		}
		out = append(out, r)
	}
	return out, nil
}

// parseDN reads a DN written as RFC 4514 says ("CN=alice, O=Acme"):
// commas separate RDNs, plus signs the values of one RDN, a backslash
// escapes a special character or starts two hex digits, and unescaped
// spaces around values do not count. Values in the #BER form are refused.
func parseDN(s string) (dn, error) {
	var (
		out      dn
		cur      rdn
		typ      string
		haveType bool
		buf      []byte
		trailing int // unescaped spaces at the end of buf
	)
	take := func() string {
		v := string(buf[:len(buf)-trailing])
		buf, trailing = buf[:0], 0
		return v
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\\':
			if i+1 >= len(s) {
				return nil, errors.New("DN ends in an escape")
			}
			i++
			trailing = 0
			if strings.IndexByte(" \"#+,;<=>\\", s[i]) >= 0 {
				buf = append(buf, s[i])
				continue
			}
			if i+1 >= len(s) {
				return nil, errors.New("DN has a truncated hex escape")
			}
			b, err := hex.DecodeString(s[i : i+2])
			if err != nil {
				return nil, fmt.Errorf("DN has a bad hex escape: %w", err)
			}
			buf = append(buf, b[0])
			i++
		case ch == '=' && !haveType:
			typ, haveType = take(), true
			if i+1 < len(s) && s[i+1] == '#' {
				return nil, errors.New("DN values in BER form are not supported")
			}
		case ch == ',' || ch == '+':
			if !haveType || typ == "" {
				return nil, errors.New("DN has a value without a type")
			}
			cur = append(cur, attr{typ: typ, val: take()})
			typ, haveType = "", false
			if ch == ',' {
				out = append(out, cur)
				cur = nil
			}
		case ch == ' ' && len(buf) == 0:
			// Leading spaces do not count.
		default:
			if ch == ' ' {
				trailing++
			} else {
				trailing = 0
			}
			buf = append(buf, ch)
		}
	}
	if len(buf) > 0 || haveType {
		if !haveType || typ == "" {
			return nil, errors.New("DN ends with a value without a type")
		}
		cur = append(cur, attr{typ: typ, val: take()})
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out, nil
}

// equal is distinguishedNameMatch: the same RDNs in the same order.
func (d dn) equal(o dn) bool {
	if len(d) != len(o) {
		return false
	}
	for i := range d {
		if !d[i].equal(o[i]) {
			return false
		}
	}
	return true
}

// sameRDNs is equal in any order, for DNs written most general first.
func (d dn) sameRDNs(o dn) bool {
	if len(d) != len(o) {
		return false
	}
	used := make([]bool, len(o))
	for _, r := range d {
		found := false
		for j, q := range o {
			if !used[j] && r.equal(q) {
				used[j], found = true, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// equal compares RDNs as sets of attributes.
func (r rdn) equal(o rdn) bool {
	return len(r) == len(o) && r.holds(o) && o.holds(r)
}

func (r rdn) holds(attrs rdn) bool {
	for _, a := range attrs {
		found := false
		for _, b := range r {
			if strings.EqualFold(a.typ, b.typ) && a.val == b.val {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// domainComponents lists a raw subject's DC attributes as "DC=x,DC=y", in
// the subject's DER order, or "" when it has none.
func domainComponents(raw []byte) string {
	var seq pkix.RDNSequence
	if _, err := asn1.Unmarshal(raw, &seq); err != nil {
		return ""
	}
	var dcs []string
	for _, set := range seq {
		for _, a := range set {
			if v, ok := a.Value.(string); ok && a.Type.Equal(dcOID) {
				dcs = append(dcs, "DC="+v)
			}
		}
	}
	return strings.Join(dcs, ",")
}
