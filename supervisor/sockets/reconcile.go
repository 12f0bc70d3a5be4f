package sockets

// Reconcile applies a reloaded [[listen]] list to the sockets vigil holds.
// A spec whose address matches a held socket keeps that socket (taking the
// spec's name), so its port never closes; the other specs, and any with
// port 0, are bound anew.
// next is the new set in spec order, for the next child. removed are the
// held sockets no spec wants any more: close them once no running child
// was started with them (a draining child keeps its own duplicate anyway).
//
// On an error (an invalid spec, a bind failure) nothing changes: no socket
// is bound or renamed, and old stays as it was.
func Reconcile(old []*Listener, specs []Spec) (next, removed []*Listener, err error) {
	if err := validate(specs); err != nil {
		return nil, nil, err
	}
	held := heldByKey(old)
	used := map[*Listener]bool{}
	kept := make([]*Listener, len(specs))
	var fresh []Spec
	for i, s := range specs {
		key, _ := addressKey(s.Address) // validated above
		if l, ok := held[key]; ok && !used[l] && !anyPort(key) {
			kept[i], used[l] = l, true
		} else {
			fresh = append(fresh, s)
		}
	}
	bound, err := Bind(fresh)
	if err != nil {
		return nil, nil, err
	}
	return merge(specs, kept, bound), unwanted(old, used), nil
}

// heldByKey indexes held sockets by both the address they were configured
// with and the one they are bound to, so a spec matches whether it repeats
// the old text or names the real address (a socket systemd passed, a port
// that was 0).
func heldByKey(old []*Listener) map[string]*Listener {
	held := map[string]*Listener{}
	for _, l := range old {
		for _, a := range []string{l.Address, addressOf(l.ln)} {
			if key, err := addressKey(a); err == nil {
				if _, dup := held[key]; !dup {
					held[key] = l
				}
			}
		}
	}
	return held
}

// merge fills the gaps in kept with the freshly bound listeners, in order,
// and gives kept ones their spec's name.
func merge(specs []Spec, kept, bound []*Listener) []*Listener {
	next := make([]*Listener, len(specs))
	for i, s := range specs {
		if kept[i] == nil {
			next[i], bound = bound[0], bound[1:]
			continue
		}
		kept[i].Name = s.Name
		next[i] = kept[i]
	}
	return next
}

// unwanted returns the listeners of old that were not kept.
func unwanted(old []*Listener, used map[*Listener]bool) []*Listener {
	var out []*Listener
	for _, l := range old {
		if !used[l] {
			out = append(out, l)
		}
	}
	return out
}
