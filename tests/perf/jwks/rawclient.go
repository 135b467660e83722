package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// rawConn is a minimal HTTP/1.1 keep-alive client for plain http:// URLs.
// A load driver sharing two cores with the server must spend as little CPU
// per request as possible, or it measures its own scheduling instead of
// the endpoint; net/http's client costs several times more than this.
type rawConn struct {
	addr, host, path string
	conn             net.Conn
	r                *bufio.Reader
	w                *bufio.Writer
}

func newRawConn(target string) (*rawConn, error) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "http" {
		return nil, errors.New("raw client: need an http:// URL")
	}
	addr := u.Host
	if u.Port() == "" {
		addr += ":80"
	}
	path := u.RequestURI()
	return &rawConn{addr: addr, host: u.Host, path: path}, nil
}

func (c *rawConn) dial(ctx context.Context) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return err
	}
	c.conn, c.r, c.w = conn, bufio.NewReaderSize(conn, 8192), bufio.NewWriterSize(conn, 1024)
	return nil
}

func (c *rawConn) close() {
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn = nil
	}
}

// get sends one GET and returns the status and ETag; the body is read and
// discarded so the connection can be reused.
func (c *rawConn) get(ctx context.Context, ifNoneMatch string) (int, string, error) {
	if c.conn == nil {
		if err := c.dial(ctx); err != nil {
			return 0, "", err
		}
	}
	_ = c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	c.w.WriteString("GET ")
	c.w.WriteString(c.path)
	c.w.WriteString(" HTTP/1.1\r\nHost: ")
	c.w.WriteString(c.host)
	if ifNoneMatch != "" {
		c.w.WriteString("\r\nIf-None-Match: ")
		c.w.WriteString(ifNoneMatch)
	}
	c.w.WriteString("\r\n\r\n")
	if err := c.w.Flush(); err != nil {
		c.close()
		return 0, "", err
	}
	tp := textproto.NewReader(c.r)
	line, err := tp.ReadLine()
	if err != nil {
		c.close()
		return 0, "", err
	}
	_, rest, ok := strings.Cut(line, " ")
	if !ok || len(rest) < 3 {
		c.close()
		return 0, "", fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(rest[:3])
	if err != nil {
		c.close()
		return 0, "", fmt.Errorf("bad status line %q", line)
	}
	length, etag, closeAfter := 0, "", false
	for {
		h, err := tp.ReadLine()
		if err != nil {
			c.close()
			return 0, "", err
		}
		if h == "" {
			break
		}
		k, v, _ := strings.Cut(h, ":")
		v = strings.TrimSpace(v)
		switch {
		case strings.EqualFold(k, "Content-Length"):
			length, _ = strconv.Atoi(v)
		case strings.EqualFold(k, "Etag"):
			etag = v
		case strings.EqualFold(k, "Connection") && strings.EqualFold(v, "close"):
			closeAfter = true
		}
	}
	if _, err := c.r.Discard(length); err != nil {
		c.close()
		return 0, "", err
	}
	if closeAfter {
		c.close()
	}
	return status, etag, nil
}
