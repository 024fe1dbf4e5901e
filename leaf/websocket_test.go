package leaf_test

import (
	"fmt"
	"net"
	"testing"

	"github.com/canopy-nats/canopy/internal/testcert"
)

// wsPort is the websocket listener's port of a server of the matrix.
func wsPort(s server) int {
	switch s := s.(type) {
	case *canopyServer:
		return s.WebsocketAddr().(*net.TCPAddr).Port
	case *natsServer:
		return s.opts.Websocket.Port
	}
	return 0
}

// TestLeafWebsocket links a leaf to its hub's websocket port (ws:// and
// wss://, with and without permessage-deflate, masked and not, with a
// path in the URL) in every pairing, and sends a mix of payloads both
// ways over the link.
func TestLeafWebsocket(t *testing.T) {
	t.Parallel()
	cs := testcert.New(t, t.TempDir())
	tlsBlock := fmt.Sprintf("tls { cert_file: %q, key_file: %q }", cs.Server.CertFile, cs.Server.KeyFile)
	variants := []struct {
		name, hubWS, scheme, path, remote string
	}{
		{"ws", "no_tls: true", "ws", "", ""},
		{"ws-deflate", "no_tls: true, compression: true", "ws", "", "ws_compression: true"},
		{"ws-deflate-refused", "no_tls: true", "ws", "", "ws_compression: true"},
		{"ws-no-masking", "no_tls: true", "ws", "", "ws_no_masking: true"},
		{"ws-path", "no_tls: true", "ws", "/some/path", ""},
		{"wss", tlsBlock + ", compression: true", "wss", "", fmt.Sprintf("ws_compression: true, tls { ca_file: %q }", cs.CA.CertFile)},
	}
	for _, p := range pairings {
		for _, v := range variants {
			t.Run(p.name+"/"+v.name, func(t *testing.T) {
				hub := start(t, p.hub, fmt.Sprintf(`server_name: hub
leafnodes { listen: "127.0.0.1:-1" }
websocket { listen: "127.0.0.1:-1", %s }`, v.hubWS))
				lf := start(t, p.leaf, fmt.Sprintf(`server_name: leaf
leafnodes { reconnect: "100ms", remotes = [ { url: "%s://127.0.0.1:%d%s", %s } ] }`,
					v.scheme, wsPort(hub), v.path, v.remote))
				waitLinks(t, hub, 1)
				waitLinks(t, lf, 1)
				hc := connect(t, hub, "")
				lc := connect(t, lf, "")
				payloadMix(t, "down", hub, hc, lc)
				payloadMix(t, "up", lf, lc, hc)
			})
		}
	}
}
