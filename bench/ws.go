package bench

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
)

// wsConn speaks websocket frames over a connection, for the idle
// connections of the conns scenario on a ws:// URL: Read returns the
// payload of the server's data frames, Write sends one masked binary
// frame. The key is all zeros, which RFC 6455 allows and which leaves the
// payload as it is.
type wsConn struct {
	net.Conn
	r   *bufio.Reader
	rem uint64 // payload bytes left in the frame being read
}

var errWSUpgrade = errors.New("bench: websocket upgrade refused")

// wsUpgrade sends the upgrade request on c and reads the answer.
func wsUpgrade(c net.Conn, host string) (*wsConn, error) {
	req := "GET / HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: Y2Fub3B5LWJlbmNoLWtleQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return nil, err
	}
	w := &wsConn{Conn: c, r: bufio.NewReaderSize(c, 4096)}
	resp, err := http.ReadResponse(w.r, nil)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, fmt.Errorf("%w: %s", errWSUpgrade, resp.Status)
	}
	return w, nil
}

func (w *wsConn) Read(p []byte) (int, error) {
	for w.rem == 0 {
		var h [2]byte
		if _, err := io.ReadFull(w.r, h[:]); err != nil {
			return 0, err
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var x [2]byte
			if _, err := io.ReadFull(w.r, x[:]); err != nil {
				return 0, err
			}
			n = uint64(binary.BigEndian.Uint16(x[:]))
		case 127:
			var x [8]byte
			if _, err := io.ReadFull(w.r, x[:]); err != nil {
				return 0, err
			}
			n = binary.BigEndian.Uint64(x[:])
		}
		if op := h[0] & 0x0f; op >= 0x8 {
			// Control frames: a close ends the stream; pings and pongs
			// carry nothing for the protocol.
			if _, err := w.r.Discard(int(n)); err != nil {
				return 0, err
			}
			if op == 0x8 {
				return 0, io.EOF
			}
			continue
		}
		w.rem = n
	}
	k := min(uint64(len(p)), w.rem)
	n, err := w.r.Read(p[:k])
	w.rem -= uint64(n)
	return n, err
}

func (w *wsConn) Write(p []byte) (int, error) {
	b := make([]byte, 0, 14+len(p))
	b = append(b, 0x82)
	switch n := len(p); {
	case n <= 125:
		b = append(b, 0x80|byte(n))
	case n < 1<<16:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	b = append(b, 0, 0, 0, 0)
	b = append(b, p...)
	if _, err := w.Conn.Write(b); err != nil {
		return 0, err
	}
	return len(p), nil
}
