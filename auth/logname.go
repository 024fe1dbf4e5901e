package auth

import (
	"strconv"

	"github.com/nats-io/jwt/v2"
)

// LogName names the credentials of a login as nats-server's
// "authentication error" line does: Nkey "<key>", User "<name>", JWT User
// "<subject>", or Token "[REDACTED]", the first that was given in that
// order. It is "" when there were none, or when the JWT given does not
// decode, for which nats-server names nobody either.
func (c *ConnectCreds) LogName() string {
	switch {
	case c.Nkey != "":
		return "Nkey " + strconv.Quote(c.Nkey)
	case c.User != "":
		return "User " + strconv.Quote(c.User)
	case c.JWT != "":
		uc, err := jwt.DecodeUserClaims(c.JWT)
		if err != nil || uc.Subject == "" {
			return ""
		}
		return "JWT User " + strconv.Quote(uc.Subject)
	case c.Token != "":
		return `Token "[REDACTED]"`
	}
	return ""
}

// RawUser is who the credentials name, as nats-server's events report a
// connection whose login failed: the nkey, the user name, the JWT's
// subject, or "[REDACTED]" for a token; "" for none.
func (c *ConnectCreds) RawUser() string {
	switch {
	case c.Nkey != "":
		return c.Nkey
	case c.User != "":
		return c.User
	case c.JWT != "":
		if uc, err := jwt.DecodeUserClaims(c.JWT); err == nil {
			return uc.Subject
		}
		return ""
	case c.Token != "":
		return "[REDACTED]"
	}
	return ""
}
