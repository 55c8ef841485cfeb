package outertest

import (
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

func (h *Host) serve() {
	for {
		nc, err := h.ln.Accept()
		if err != nil {
			return
		}
		h.mu.Lock()
		down := h.never || time.Now().Before(h.upAt)
		conf := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			if string(k.Marshal()) == string(h.client.Marshal()) {
				return nil, nil
			}
			return nil, fmt.Errorf("unknown key")
		}}
		conf.AddHostKey(h.key) // the key of this boot
		h.mu.Unlock()
		if down {
			nc.Close() // a host going down or booting: reset
			continue
		}
		go h.conn(nc, conf)
	}
}

func (h *Host) conn(nc net.Conn, conf *ssh.ServerConfig) {
	sc, chans, reqs, err := ssh.NewServerConn(nc, conf)
	if err != nil {
		nc.Close()
		return
	}
	h.mu.Lock()
	h.conns[sc] = true
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.conns, sc)
		h.mu.Unlock()
		sc.Close()
	}()
	go func() {
		// Global requests (keepalive@openssh.com) are refused, as
		// OpenSSH does, unless the host froze: then nothing answers.
		for r := range reqs {
			h.mu.Lock()
			frozen := h.frozen
			h.mu.Unlock()
			if !frozen && r.WantReply {
				r.Reply(false, nil)
			}
		}
	}()
	for nch := range chans {
		if nch.ChannelType() != "session" {
			nch.Reject(ssh.UnknownChannelType, "no")
			continue
		}
		ch, creqs, err := nch.Accept()
		if err != nil {
			return
		}
		go h.session(ch, creqs)
	}
}

func (h *Host) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		if req.Type != "exec" {
			req.Reply(false, nil)
			continue
		}
		var p struct{ Cmd string }
		ssh.Unmarshal(req.Payload, &p)
		req.Reply(true, nil)
		argv, err := shellSplit(p.Cmd)
		if len(argv) > 4 && argv[0] == "timeout" && argv[1] == "-k" {
			argv = argv[4:] // the transport's remote timeout wrapper
		}
		code := 127
		if err != nil {
			fmt.Fprintf(ch.Stderr(), "sh: %v\n", err)
		} else {
			var reboot bool
			code, reboot = h.exec(argv, ch, ch.Stderr(), ch)
			if reboot {
				h.reboot()
				return // the connection dies: no exit status
			}
		}
		ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, uint32(code)))
		return
	}
}

func (h *Host) reboot() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.conns {
		c.Close()
	}
	if h.NeverReturn {
		h.never = true
		return
	}
	h.upAt = time.Now().Add(h.DownFor)
	h.bootLocked(true)
}

// shellSplit undoes transport.QuoteArgv: single-quoted words, backslash escapes
// outside quotes, words separated by spaces.
func shellSplit(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	in, inWord := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case in && c == '\'':
			in = false
		case in:
			cur.WriteByte(c)
		case c == '\'':
			in, inWord = true, true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if in {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}
