package auth

import "github.com/canopy-nats/canopy/conf"

// wsAuth is the websocket block's authorization. When it names a user, a
// token or a no_auth_user, websocket clients use those instead of the
// top-level ones (users lists still apply), as nats-server's websocket
// auth override; its no_auth_user also serves leafs that come in over
// websocket.
type wsAuth struct {
	on                 bool // the block overrides the client authorization
	username, password string
	token              string
	noAuthUser         string
}

func (a *Authenticator) setupWebsocket(opts *conf.Options) {
	w := &opts.Websocket
	if w.Port == 0 {
		return
	}
	a.ws = wsAuth{on: w.AuthOverride(), username: w.Username, password: w.Password,
		token: w.Token, noAuthUser: w.NoAuthUser}
}

// override reports whether websocket connections of the kind authenticate
// differently from the others.
func (w *wsAuth) override(leaf bool) bool {
	if leaf {
		return w.noAuthUser != ""
	}
	return w.on
}

// authWebsocket authenticates a websocket connection against a copy of
// the authenticator whose single user, token and no_auth_user are the
// websocket block's.
func (a *Authenticator) authWebsocket(c *ConnectCreds, nonce string, leaf bool) (*Identity, error) {
	b := *a
	b.ws = wsAuth{}
	b.noAuthUser = a.ws.noAuthUser
	if !leaf {
		b.username, b.password, b.token = a.ws.username, a.ws.password, a.ws.token
	}
	b.authRequired = true
	return b.authenticate(c, nonce, leaf)
}

// RequiredWebsocket is auth_required in the INFO a websocket client gets:
// the block's own authorization makes it so.
func (a *Authenticator) RequiredWebsocket() bool {
	return a.infoRequired || a.ws.on
}
