// Package walbatch is a SQLite VFS shim for modernc.org/sqlite that writes
// a transaction's WAL frames to the file together, in one write system call
// for a typical batch, instead of two calls per frame.
//
// SQLite appends a WAL frame as two writes: its 24-byte header, then the
// page. vigil-server's writer commits batches of 10-25 operations, 15-50
// frames; on the 2-vCPU VM it was measured on, where a system call costs
// microseconds, those write calls took 15% of the server's CPU under the
// one-time GET benchmark, all of it on the writer goroutine that every write
// waits for. The shim copies appended frames into a buffer and writes the
// buffer when the transaction's commit frame is complete, in writes of at
// most 128 KiB (the most the unix VFS takes in one call).
//
// What stays as SQLite wrote it:
//   - Order: bytes reach the file in the order SQLite wrote them; the buffer
//     only ever holds one contiguous run at the end of the WAL.
//   - Visibility: a commit becomes visible to other connections and
//     processes when SQLite publishes the new WAL-index header in shared
//     memory, after its last write. That write, the page of the commit
//     frame, flushes the buffer and returns the flush's result, so every
//     committed frame is in the file (the OS page cache, which a crash of the
//     process does not lose) before SQLite publishes it, and a failed flush
//     (a full disk) fails the commit as a failed write would.
//   - Anything else done with the WAL file (a read, a sync, a truncate, its
//     size, a file control, closing it) first writes what is buffered.
//     Frames of a transaction that has not committed (SQLite spills pages
//     of a large transaction early) may stay buffered meanwhile: no other
//     connection reads them before the commit frame, which flushes them.
//   - Rewrites (a frame SQLite overwrites in place within its transaction,
//     the checksum rewrite that follows) and the WAL header of a new
//     generation are written through at once, after the buffer.
//
// This relies on how SQLite writes a WAL: a frame header, then its page,
// the commit frame last, the commit marked in its header (the WAL file
// format, https://sqlite.org/fileformat2.html#walformat). The tests hold the
// library to it: after every commit another connection reads what was
// committed, and a copy of the files recovers it, checksums verified.
//
// Only files SQLite opens as a WAL are wrapped; the database file, its
// shared-memory index and every lock use the base VFS unchanged.
package walbatch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// Name is the VFS name to give in a DSN (vfs=...) once Register succeeded.
const Name = "vigil-walbatch"

const (
	// walHeaderSize and frameHeaderSize are fixed by the WAL file format.
	walHeaderSize   = 32
	frameHeaderSize = 24
	// maxWrite is the most the unix VFS writes in one call: it masks the
	// length with 0x1ffff (seekAndWriteFd), so a longer write would be cut
	// short and reported as a full disk.
	maxWrite = 0x1ffff
)

// maxBuffer bounds the buffer: a transaction that writes more (a large
// file) is written in runs of about this size. A variable so that the tests
// can make runs end at every other frame.
var maxBuffer int64 = 4 << 20

var (
	registerOnce sync.Once
	registerErr  error
	// baseWrites counts the writes handed to the base VFS, for the tests.
	baseWrites atomic.Int64
)

// Register registers the VFS, wrapping SQLite's default VFS, under Name. It
// is safe to call more than once and from several goroutines; every call
// returns the first call's result.
func Register() error {
	registerOnce.Do(func() { registerErr = register() })
	return registerErr
}

// The base VFS and the size of its file objects, set once by register.
var (
	baseVFS   uintptr
	extOffset int32 // where a file's fileExt starts, after the base's bytes
)

func register() error {
	tls := libc.NewTLS()
	defer tls.Close()
	baseVFS = sqlite3.Xsqlite3_vfs_find(tls, 0)
	if baseVFS == 0 {
		return errors.New("walbatch: SQLite has no default VFS")
	}
	base := (*sqlite3.Tsqlite3_vfs)(cptr(baseVFS))
	extOffset = (base.FszOsFile + 7) &^ 7
	p := sqlite3.Xsqlite3_malloc64(tls, uint64(unsafe.Sizeof(sqlite3.Tsqlite3_vfs{})))
	name, err := libc.CString(Name)
	if p == 0 || err != nil {
		return errors.New("walbatch: out of memory")
	}
	v := (*sqlite3.Tsqlite3_vfs)(cptr(p))
	*v = *base
	v.FpNext = 0
	v.FzName = name
	v.FszOsFile = extOffset + int32(unsafe.Sizeof(fileExt{}))
	v.FxOpen = cFuncPointer(xOpen)
	if rc := sqlite3.Xsqlite3_vfs_register(tls, p, 0); rc != sqlite3.SQLITE_OK {
		return fmt.Errorf("walbatch: register VFS: SQLite error %d", rc)
	}
	return nil
}

// fileExt is the shim's state of one WAL file, kept in the file object's
// bytes after the base VFS's (C memory, so no Go pointers).
type fileExt struct {
	base   uintptr // the base VFS's io methods for this file
	buf    uintptr // sqlite3_malloc'd, bufCap bytes
	bufCap int64
	bufLen int64
	bufOff int64 // the file offset of buf's first byte
	// hwm is the end of what has been written (or buffered) in this WAL
	// generation: a write below it is a rewrite.
	hwm int64
	// commitPage is the offset of the page of a buffered commit frame
	// whose header came last; the write there completes the commit. -1 if
	// none.
	commitPage int64
}

func ext(pFile uintptr) *fileExt { return (*fileExt)(cptr(pFile + uintptr(extOffset))) }

// methodsMu guards wrapped, the io methods built for each base io methods
// table (a VFS has a few; SQLite's unix VFS uses one for every WAL).
var (
	methodsMu sync.Mutex
	wrapped   = map[uintptr]uintptr{}
)

// wrapMethods returns the io methods for a WAL file whose base methods are
// base: a copy with the calls this shim intercepts replaced.
func wrapMethods(tls *libc.TLS, base uintptr) uintptr {
	methodsMu.Lock()
	defer methodsMu.Unlock()
	if m, ok := wrapped[base]; ok {
		return m
	}
	p := sqlite3.Xsqlite3_malloc64(tls, uint64(unsafe.Sizeof(sqlite3.Tsqlite3_io_methods{})))
	if p == 0 {
		return 0
	}
	m := (*sqlite3.Tsqlite3_io_methods)(cptr(p))
	*m = *(*sqlite3.Tsqlite3_io_methods)(cptr(base))
	m.FxClose = cFuncPointer(xClose)
	m.FxRead = cFuncPointer(xRead)
	m.FxWrite = cFuncPointer(xWrite)
	m.FxTruncate = cFuncPointer(xTruncate)
	m.FxSync = cFuncPointer(xSync)
	m.FxFileSize = cFuncPointer(xFileSize)
	m.FxFileControl = cFuncPointer(xFileControl)
	wrapped[base] = p
	return p
}

// xOpen opens the file with the base VFS and wraps it if it is a WAL.
func xOpen(tls *libc.TLS, pVfs, zName, pFile uintptr, flags int32, pOutFlags uintptr) int32 {
	base := (*sqlite3.Tsqlite3_vfs)(cptr(baseVFS))
	rc := callOpen(base.FxOpen)(tls, baseVFS, zName, pFile, flags, pOutFlags)
	f := (*sqlite3.Tsqlite3_file)(cptr(pFile))
	if rc != sqlite3.SQLITE_OK || flags&sqlite3.SQLITE_OPEN_WAL == 0 || f.FpMethods == 0 {
		return rc
	}
	m := wrapMethods(tls, f.FpMethods)
	if m == 0 {
		return rc // not wrapped: written frame by frame, as without the shim
	}
	*ext(pFile) = fileExt{base: f.FpMethods, commitPage: -1}
	f.FpMethods = m
	return rc
}

// baseMethods returns the base io methods of a wrapped file.
func (x *fileExt) baseMethods() *sqlite3.Tsqlite3_io_methods {
	return (*sqlite3.Tsqlite3_io_methods)(cptr(x.base))
}

// flush writes the buffer, in writes of at most maxWrite. After a failure
// the buffer is dropped: what it held belongs to a transaction that now
// fails, and SQLite writes those frames again if it retries.
func (x *fileExt) flush(tls *libc.TLS, pFile uintptr) int32 {
	n, off := x.bufLen, x.bufOff
	x.bufLen = 0
	for done := int64(0); done < n; {
		c := min(n-done, maxWrite)
		if rc := x.writeThrough(tls, pFile, x.buf+uintptr(done), int32(c), off+done); rc != sqlite3.SQLITE_OK {
			return rc
		}
		done += c
	}
	return sqlite3.SQLITE_OK
}

// writeThrough is the base VFS's write.
func (x *fileExt) writeThrough(tls *libc.TLS, pFile, p uintptr, n int32, off int64) int32 {
	baseWrites.Add(1)
	return callWrite(x.baseMethods().FxWrite)(tls, pFile, p, n, off)
}

// xWrite buffers appended frames and writes through everything else.
func xWrite(tls *libc.TLS, pFile, zBuf uintptr, iAmt int32, iOfst int64) int32 {
	x := ext(pFile)
	n := int64(iAmt)
	// The page of the commit frame whose header came last is the
	// transaction's last write: SQLite publishes the commit after it. Decided
	// before anything else, since the buffer may fill and be written out
	// below, header and all.
	commits := iOfst == x.commitPage
	x.commitPage = -1
	if iOfst < x.hwm || iOfst == 0 {
		// A rewrite, or the WAL header of a new generation (offset 0, after
		// a checkpoint let the WAL start over).
		if rc := x.flush(tls, pFile); rc != sqlite3.SQLITE_OK {
			return rc
		}
		if iOfst == 0 {
			x.hwm = 0
		}
		x.hwm = max(x.hwm, iOfst+n)
		return x.writeThrough(tls, pFile, zBuf, iAmt, iOfst)
	}
	if x.bufLen > 0 && (iOfst != x.bufOff+x.bufLen || x.bufLen+n > maxBuffer) {
		if rc := x.flush(tls, pFile); rc != sqlite3.SQLITE_OK {
			return rc
		}
	}
	if rc := x.reserve(tls, x.bufLen+n); rc != sqlite3.SQLITE_OK {
		return rc
	}
	if x.bufLen == 0 {
		x.bufOff = iOfst
	}
	copy(unsafe.Slice((*byte)(cptr(x.buf+uintptr(x.bufLen))), n), unsafe.Slice((*byte)(cptr(zBuf)), n))
	x.bufLen += n
	x.hwm = max(x.hwm, iOfst+n)
	switch {
	case commits:
		return x.flush(tls, pFile)
	case n == frameHeaderSize && iOfst >= walHeaderSize && isCommitHeader(zBuf):
		x.commitPage = iOfst + frameHeaderSize
	}
	return sqlite3.SQLITE_OK
}

// isCommitHeader reports whether the frame header at p is a commit frame's:
// its second field, the database size after the commit, is non-zero only
// there.
func isCommitHeader(p uintptr) bool {
	return binary.BigEndian.Uint32(unsafe.Slice((*byte)(cptr(p+4)), 4)) != 0
}

// reserve grows the buffer to hold n bytes.
func (x *fileExt) reserve(tls *libc.TLS, n int64) int32 {
	if n <= x.bufCap {
		return sqlite3.SQLITE_OK
	}
	c := min(max(n, 2*x.bufCap, 64<<10), max(n, maxBuffer))
	p := sqlite3.Xsqlite3_realloc64(tls, x.buf, uint64(c))
	if p == 0 {
		return sqlite3.SQLITE_IOERR_NOMEM
	}
	x.buf, x.bufCap = p, c
	return sqlite3.SQLITE_OK
}

func xRead(tls *libc.TLS, pFile, zBuf uintptr, iAmt int32, iOfst int64) int32 {
	x := ext(pFile)
	if rc := x.flush(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return callRead(x.baseMethods().FxRead)(tls, pFile, zBuf, iAmt, iOfst)
}

func xTruncate(tls *libc.TLS, pFile uintptr, size int64) int32 {
	x := ext(pFile)
	if rc := x.flush(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return callTruncate(x.baseMethods().FxTruncate)(tls, pFile, size)
}

func xSync(tls *libc.TLS, pFile uintptr, flags int32) int32 {
	x := ext(pFile)
	if rc := x.flush(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return callSync(x.baseMethods().FxSync)(tls, pFile, flags)
}

func xFileSize(tls *libc.TLS, pFile, pSize uintptr) int32 {
	x := ext(pFile)
	if rc := x.flush(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return callFileSize(x.baseMethods().FxFileSize)(tls, pFile, pSize)
}

func xFileControl(tls *libc.TLS, pFile uintptr, op int32, pArg uintptr) int32 {
	x := ext(pFile)
	if rc := x.flush(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return callFileControl(x.baseMethods().FxFileControl)(tls, pFile, op, pArg)
}

// xClose writes what is buffered, frees the buffer and closes the file. A
// failed write is reported, but the file is closed either way.
func xClose(tls *libc.TLS, pFile uintptr) int32 {
	x := ext(pFile)
	rc := x.flush(tls, pFile)
	if x.buf != 0 {
		sqlite3.Xsqlite3_free(tls, x.buf)
		x.buf, x.bufCap = 0, 0
	}
	if crc := callClose(x.baseMethods().FxClose)(tls, pFile); rc == sqlite3.SQLITE_OK {
		rc = crc
	}
	return rc
}

// cptr turns an address of C memory (allocated by SQLite's allocator, never
// by Go's) into a pointer.
func cptr(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }

// cFuncPointer is modernc.org/sqlite's own conversion of a Go function to a
// C function pointer: the address of its static function value.
func cFuncPointer[T any](f T) uintptr { return *(*uintptr)(unsafe.Pointer(&struct{ f T }{f})) }

// The calls of a C function pointer, as modernc.org/sqlite's generated code
// makes them.
func callOpen(fp uintptr) func(*libc.TLS, uintptr, uintptr, uintptr, int32, uintptr) int32 {
	return *(*func(*libc.TLS, uintptr, uintptr, uintptr, int32, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{fp}))
}

func callWrite(fp uintptr) func(*libc.TLS, uintptr, uintptr, int32, int64) int32 {
	return *(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&struct{ uintptr }{fp}))
}

func callRead(fp uintptr) func(*libc.TLS, uintptr, uintptr, int32, int64) int32 {
	return callWrite(fp)
}

func callTruncate(fp uintptr) func(*libc.TLS, uintptr, int64) int32 {
	return *(*func(*libc.TLS, uintptr, int64) int32)(unsafe.Pointer(&struct{ uintptr }{fp}))
}

func callSync(fp uintptr) func(*libc.TLS, uintptr, int32) int32 {
	return *(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&struct{ uintptr }{fp}))
}

func callFileSize(fp uintptr) func(*libc.TLS, uintptr, uintptr) int32 {
	return *(*func(*libc.TLS, uintptr, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{fp}))
}

func callFileControl(fp uintptr) func(*libc.TLS, uintptr, int32, uintptr) int32 {
	return *(*func(*libc.TLS, uintptr, int32, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{fp}))
}

func callClose(fp uintptr) func(*libc.TLS, uintptr) int32 {
	return *(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{fp}))
}
