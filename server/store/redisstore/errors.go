package redisstore

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-sh/vigil/server/store"
)

// opError is a failed Redis operation. Its message is ours, short and free
// of passwords and ids (a Redis error can quote a command's arguments, and
// so a key); the go-redis error stays reachable through Unwrap.
type opError struct {
	op, msg string
	kind    error // store.ErrUnavailable, store.ErrClosed or nil
	err     error
}

func (e *opError) Error() string {
	if e.kind != nil {
		return "redis " + e.op + ": " + e.kind.Error() + ": " + e.msg
	}
	return "redis " + e.op + ": " + e.msg
}

func (e *opError) Unwrap() []error {
	if e.kind != nil {
		return []error{e.kind, e.err}
	}
	return []error{e.err}
}

// classify turns a go-redis error into the store's terms.
func classify(op string, err error) *opError {
	switch {
	case errors.Is(err, redis.ErrClosed):
		return &opError{op: op, msg: "closed", kind: store.ErrClosed, err: err}
	case errors.Is(err, context.Canceled):
		// The caller gave up (the HTTP client went away); not Redis's fault.
		return &opError{op: op, msg: "canceled", err: err}
	case errors.Is(err, errCorrupt):
		return &opError{op: op, msg: err.Error(), err: err}
	}
	var rerr redis.Error
	// go-redis types some of its own errors as replies ("redis: nil" inside
	// a Sentinel lookup failure); real replies never start with "redis: ".
	if errors.As(err, &rerr) && !strings.HasPrefix(rerr.Error(), "redis: ") {
		return classifyReply(op, rerr)
	}
	return &opError{op: op, msg: networkReason(err), kind: store.ErrUnavailable, err: err}
}

// classifyReply sorts Redis's error replies by their code (first word).
func classifyReply(op string, rerr redis.Error) *opError {
	code, _, _ := strings.Cut(rerr.Error(), " ")
	if reason, ok := unavailableCodes[code]; ok {
		return &opError{op: op, msg: reason, kind: store.ErrUnavailable, err: rerr}
	}
	if strings.HasPrefix(rerr.Error(), "ERR max number of clients") {
		return &opError{op: op, msg: "Redis has too many clients", kind: store.ErrUnavailable, err: rerr}
	}
	if code == "WRONGTYPE" {
		return &opError{op: op, msg: "key holds another type of value (is the prefix shared with another application?)", err: rerr}
	}
	return &opError{op: op, msg: "Redis replied with error " + code, err: rerr}
}

// unavailableCodes are the error replies that mean "Redis cannot serve
// now; try later" rather than a mistake in the request.
var unavailableCodes = map[string]string{
	"LOADING":     "Redis is loading its dataset",
	"READONLY":    "Redis is a read-only replica",
	"MASTERDOWN":  "the Redis master is down",
	"CLUSTERDOWN": "the Redis cluster is down",
	"TRYAGAIN":    "the Redis cluster is moving keys",
	"NOREPLICAS":  "not enough Redis replicas",
	"NOAUTH":      "Redis authentication required",
	"WRONGPASS":   "Redis authentication failed",
	"NOPERM":      "the Redis user lacks a permission",
	"OOM":         "Redis is out of memory (maxmemory)",
	"MISCONF":     "Redis cannot persist to disk (MISCONF)",
	"BUSY":        "Redis is busy running a script",
}

func networkReason(err error) string {
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.Is(err, redis.ErrPoolTimeout):
		return "timed out waiting for a free connection"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timed out"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection lost"
	case strings.HasPrefix(err.Error(), "redis: all sentinels"):
		return "no Sentinel could name the master"
	case errors.As(err, &dnsErr):
		return "cannot resolve the Redis host"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timed out"
	case errors.As(err, &netErr):
		return "network error"
	}
	return "request failed"
}

// isUnknownCommand reports Redis's answer to a command it does not have
// (GETDEL before Redis 6.2, or renamed away).
func isUnknownCommand(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr) && strings.HasPrefix(rerr.Error(), "ERR unknown command")
}
