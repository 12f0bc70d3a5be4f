package sockets

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Bind opens a listening socket for every spec, in order. It binds all or
// none: on an error it closes the ones it opened and returns an error that
// names the spec and its address, with every invalid spec reported at once.
func Bind(specs []Spec) ([]*Listener, error) {
	if err := validate(specs); err != nil {
		return nil, err
	}
	ls := make([]*Listener, 0, len(specs))
	for _, s := range specs {
		l, err := bindOne(s)
		if err != nil {
			_ = CloseAll(ls)
			return nil, err
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// Validate checks specs without binding anything: every name and address
// is well-formed and no address appears twice. It reports every problem at
// once; Bind and Reconcile check the same.
func Validate(specs []Spec) error { return validate(specs) }

// validate checks names and addresses, and that no address appears twice.
func validate(specs []Spec) error {
	var errs []error
	seen := map[string]string{}
	for _, s := range specs {
		if err := validName(s.Name); err != nil {
			errs = append(errs, fmt.Errorf("listen: %w", err))
		}
		key, err := addressKey(s.Address)
		if err != nil {
			errs = append(errs, fmt.Errorf("listen %q: %w", s.Name, err))
			continue
		}
		if other, dup := seen[key]; dup && !anyPort(key) {
			errs = append(errs, fmt.Errorf("listen %q: address %s is already used by %q", s.Name, s.Address, other))
		}
		seen[key] = s.Name
	}
	return errors.Join(errs...)
}

// addressKey checks an address and returns a canonical form, so that
// "127.0.0.1:80" and "127.000.0.1:80", or "[::1]:80" and
// "[0:0::1]:80", are recognised as the same socket.
func addressKey(address string) (string, error) {
	if path, ok := strings.CutPrefix(address, unixPrefix); ok {
		if path == "" {
			return "", fmt.Errorf("address %q: empty socket path", address)
		}
		if !strings.HasPrefix(path, "@") {
			path = filepath.Clean(path)
		}
		return unixPrefix + path, nil
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return "", fmt.Errorf("address %q: want host:port, [ipv6]:port or unix:/path: %w", address, err)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return "", fmt.Errorf("address %q: bad port: %w", address, err)
	}
	if ip := net.ParseIP(host); ip != nil {
		host = ip.String()
	}
	return net.JoinHostPort(host, port), nil
}

func bindOne(s Spec) (*Listener, error) {
	var ln net.Listener
	var err error
	if path, ok := strings.CutPrefix(s.Address, unixPrefix); ok {
		ln, err = bindUnix(path)
	} else {
		ln, err = net.Listen("tcp", s.Address)
	}
	if err != nil {
		return nil, fmt.Errorf("listen %q on %s: %w", s.Name, s.Address, err)
	}
	return newListener(s.Name, s.Address, ln), nil
}

// bindUnix binds a Unix stream socket. A socket file left behind by a vigil
// that was killed (nobody accepts on it any more) is removed and the bind
// retried, so a restart does not fail with "address already in use"; a live
// socket is left alone.
func bindUnix(path string) (net.Listener, error) {
	ln, err := net.Listen("unix", path)
	if err == nil || !errors.Is(err, syscall.EADDRINUSE) || !stale(path) {
		return ln, err
	}
	if rerr := os.Remove(path); rerr != nil {
		return nil, fmt.Errorf("%w (removing the stale socket failed: %v)", err, rerr)
	}
	return net.Listen("unix", path)
}

// stale reports a socket file that refuses connections.
func stale(path string) bool {
	st, err := os.Lstat(path)
	if err != nil || st.Mode().Type() != os.ModeSocket {
		return false
	}
	c, err := net.Dial("unix", path)
	if err == nil {
		_ = c.Close()
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// anyPort reports a TCP address with port 0, which binds a fresh port each
// time, so two of them do not collide.
func anyPort(key string) bool {
	return !strings.HasPrefix(key, unixPrefix) && strings.HasSuffix(key, ":0")
}
