package sqlitestore

import (
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/vigil-sh/vigil/server/store"
)

// unavailable names the SQLite primary result codes that mean the file
// cannot be used now but may be later; the API answers 503 for them.
var unavailable = map[int]string{
	sqlite3.SQLITE_FULL:     "disk full",
	sqlite3.SQLITE_IOERR:    "I/O error",
	sqlite3.SQLITE_BUSY:     "database locked by another connection past the busy timeout",
	sqlite3.SQLITE_LOCKED:   "database table locked",
	sqlite3.SQLITE_READONLY: "database is read-only",
	sqlite3.SQLITE_CANTOPEN: "cannot open the database file",
	sqlite3.SQLITE_NOMEM:    "out of memory",
	sqlite3.SQLITE_PROTOCOL: "WAL locking protocol failed",
}

// classify wraps err with what was being done and, for the codes in
// unavailable, with store.ErrUnavailable and a plain reason ("disk full").
func classify(doing string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, store.ErrUnavailable) { // classified already
		return fmt.Errorf("%s: %w", doing, err)
	}
	if code, ok := sqliteCode(err); ok {
		if reason, ok := unavailable[code&0xff]; ok {
			return fmt.Errorf("%s: %s: %w: %w", doing, reason, store.ErrUnavailable, err)
		}
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// sqliteCode returns the extended SQLite result code inside err.
func sqliteCode(err error) (int, bool) {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code(), true
	}
	return 0, false
}

// isDomain reports whether err is an answer (the id exists, or is not
// there) rather than a failure of the database.
func isDomain(err error) bool {
	return errors.Is(err, store.ErrExists) || errors.Is(err, store.ErrNotFound)
}
