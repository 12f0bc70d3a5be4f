// Package sockets holds the listening sockets vigil owns for its whole life
// and hands to each child with systemd's socket-activation contract, so a
// child restart or crash never refuses a connection: clients wait in the
// backlog of the one shared socket until the next child accepts.
//
// The sockets come from the config ([[listen]], Bind), or from systemd when
// vigil itself is socket-activated (FromActivation). ChildFiles duplicates
// them for a child without switching the shared socket to blocking mode,
// and ScrubEnv keeps vigil's own activation and notify variables from
// leaking to children.
package sockets

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
)

// unixPrefix marks a Unix socket address in a Spec: "unix:/run/vigil.sock",
// or "unix:@name" for the abstract namespace.
const unixPrefix = "unix:"

// Spec is one [[listen]] entry of the config.
type Spec struct {
	// Name is the socket's LISTEN_FDNAMES entry; the child tells its
	// sockets apart by it (vigil-server serves /metrics on "metrics").
	Name string
	// Address is "127.0.0.1:1337", "[::1]:8080", or "unix:/path".
	Address string
}

// Listener is a listening socket owned by vigil. vigil never accepts on it;
// it keeps it open so the port stays bound between children.
type Listener struct {
	// Name is the LISTEN_FDNAMES entry handed to children.
	Name string
	// Address is the configured address, or for an inherited socket the
	// address it is bound to, in Spec.Address form.
	Address string
	ln      net.Listener // *net.TCPListener or *net.UnixListener
}

// Addr returns the address the socket is bound to, with the real port when
// the configured one was 0.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Close closes vigil's copy of the socket (and removes a Unix socket's file
// if vigil created it). Children that hold a duplicate keep serving on it.
func (l *Listener) Close() error {
	if err := l.ln.Close(); err != nil {
		return fmt.Errorf("close listener %q (%s): %w", l.Name, l.Address, err)
	}
	return nil
}

// CloseAll closes every listener, returning all errors joined.
func CloseAll(ls []*Listener) error {
	var errs []error
	for _, l := range ls {
		errs = append(errs, l.Close())
	}
	return errors.Join(errs...)
}

// control runs f on vigil's own fd for the socket, without the
// side effects of (*net.TCPListener).File (see ChildFiles).
func (l *Listener) control(f func(fd int)) error {
	sc, ok := l.ln.(syscall.Conn)
	if !ok {
		return fmt.Errorf("listener %q: %T has no file descriptor", l.Name, l.ln)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	return raw.Control(func(fd uintptr) { f(int(fd)) })
}

// newListener wraps a bound socket; address is its Spec.Address form.
func newListener(name, address string, ln net.Listener) *Listener {
	return &Listener{Name: name, Address: address, ln: ln}
}

// addressOf spells a bound socket's address in Spec.Address form.
func addressOf(ln net.Listener) string {
	if ua, ok := ln.Addr().(*net.UnixAddr); ok {
		return unixPrefix + ua.Name
	}
	return ln.Addr().String()
}

// validName applies systemd's rule for LISTEN_FDNAMES entries
// (fdname_is_valid): 1 to 255 printable ASCII characters, no ':', which
// separates the names.
func validName(name string) error {
	if name == "" || len(name) > 255 {
		return fmt.Errorf("name %q: want 1 to 255 characters", name)
	}
	if strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r > '~' || r == ':' }) {
		return fmt.Errorf("name %q: only printable ASCII without ':' is allowed", name)
	}
	return nil
}

// closeFiles closes files already opened when a later step failed.
func closeFiles(files []*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}
