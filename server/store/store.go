// Package store defines how vigil-server keeps encrypted secrets: the Store
// interface that every backend implements, and the errors they share.
//
// A store only ever sees ciphertext. It keeps each secret until it expires,
// is deleted, or (for a one-time secret) is read once.
package store

import (
	"context"
	"errors"
	"time"
)

// Kind separates the two id spaces of the API: text secrets (/secret/{id})
// and files (/file/{id}). An id created as one kind is not found as the other.
type Kind uint8

const (
	// KindSecret is a text secret: an armored OpenPGP message.
	KindSecret Kind = iota + 1
	// KindFile is a file: a binary OpenPGP message.
	KindFile
)

// String returns "secret" or "file".
func (k Kind) String() string {
	switch k {
	case KindSecret:
		return "secret"
	case KindFile:
		return "file"
	}
	return "unknown"
}

// Secret is what a store keeps for one id.
type Secret struct {
	// Data is the ciphertext, stored and returned byte for byte.
	Data []byte
	// TTL is the lifetime the secret was created with. Get returns the
	// original TTL, not the time left (Yopass's "expiration" field).
	TTL time.Duration
	// OneTime secrets are deleted by the read that returns them.
	OneTime bool
}

// Store keeps secrets. Every method is safe for concurrent use, including by
// several processes sharing one backend (two vigil-server children during a
// reload, or many instances behind a load balancer).
type Store interface {
	// Create stores s under (kind, id) for s.TTL. It returns ErrExists if the
	// id is already taken (by a secret that has not expired) and never
	// overwrites it. A nil error means the secret is durable in the backend.
	Create(ctx context.Context, kind Kind, id string, s Secret) error
	// Get returns the secret. A one-time secret is claimed atomically: among
	// any number of concurrent readers, in any number of processes, exactly
	// one gets it and the rest get ErrNotFound. An expired secret is never
	// returned, even before a sweep removes it.
	Get(ctx context.Context, kind Kind, id string) (Secret, error)
	// Delete removes the secret; ErrNotFound if there was none.
	Delete(ctx context.Context, kind Kind, id string) error
	// Status reports whether the secret is one-time without consuming it;
	// ErrNotFound if there is none (or it expired).
	Status(ctx context.Context, kind Kind, id string) (oneTime bool, err error)
	// Ping returns nil when the backend can serve requests.
	Ping(ctx context.Context) error
	// Close releases the backend. Calls after Close return errors; Close
	// itself is safe to call more than once.
	Close() error
}

var (
	// ErrNotFound means no live secret has that id.
	ErrNotFound = errors.New("secret not found")
	// ErrExists means the id is taken; the caller should make a new id.
	ErrExists = errors.New("secret id already exists")
	// ErrUnavailable wraps errors that mean the backend cannot be reached
	// now (Redis down, disk full, database locked past its timeout). The API
	// answers 503 for them; the request may succeed later.
	ErrUnavailable = errors.New("store unavailable")
	// ErrClosed is returned by a store after Close.
	ErrClosed = errors.New("store closed")
)
