package supervise

import (
	"slices"

	"github.com/vigil-sh/vigil/supervisor/sockets"
)

// socketChange is what a reload does to the sockets vigil holds, kept
// until the reload commits or fails.
type socketChange struct {
	changed bool
	next    []*sockets.Listener // for the new child, in [[listen]] order
	removed []*sockets.Listener // to close on commit
	// names are the names held sockets had before: Reconcile renames the
	// ones it keeps, which a failed reload undoes.
	names map[*sockets.Listener]string
}

// reconcileSockets binds what a reload's [[listen]] list adds. An
// unchanged list keeps every socket as it is (port 0 would otherwise be
// bound anew on every reload), and a socket-activated vigil always keeps
// the sockets systemd gave it.
func (s *Supervisor) reconcileSockets(r *reloadRun) error {
	r.socks = socketChange{next: s.listeners}
	if s.opts.Activated {
		if !slices.Equal(s.cfg.Listen, r.cfg.Listen) {
			s.log.Warn("reload: [[listen]] changed but vigil is socket-activated: keeping the sockets systemd passed", "reload", r.id)
		}
		return nil
	}
	if slices.Equal(s.cfg.Listen, r.cfg.Listen) {
		return nil
	}
	names := make(map[*sockets.Listener]string, len(s.listeners))
	for _, l := range s.listeners {
		names[l] = l.Name
	}
	next, removed, err := sockets.Reconcile(s.listeners, r.cfg.Listen)
	if err != nil {
		return err
	}
	r.socks = socketChange{changed: true, next: next, removed: removed, names: names}
	for _, l := range next {
		if _, held := names[l]; !held {
			s.log.Info("reload: listening", "reload", r.id, "name", l.Name, "address", l.Addr().String())
		}
	}
	return nil
}

// applySockets commits a socket change: vigil's copies of removed sockets
// are closed (a draining child keeps its own duplicate until it exits).
func (s *Supervisor) applySockets(r *reloadRun) {
	if !r.socks.changed {
		return
	}
	s.listeners = r.socks.next
	for _, l := range r.socks.removed {
		if err := l.Close(); err != nil {
			s.log.Warn("reload: close listener", "error", err)
			continue
		}
		s.log.Info("reload: listener closed", "reload", r.id, "name", l.Name, "address", l.Address)
	}
	r.socks = socketChange{}
}

// restoreSockets undoes a socket change of a failed reload: the sockets it
// bound are closed and the held ones get their names back.
func (s *Supervisor) restoreSockets(r *reloadRun) {
	if !r.socks.changed {
		return
	}
	for _, l := range r.socks.next {
		if _, held := r.socks.names[l]; !held {
			_ = l.Close()
		}
	}
	for l, name := range r.socks.names {
		l.Name = name
	}
	r.socks = socketChange{}
}
