package watch

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
)

// stateMissing is the content state of a file that does not exist. A deleted
// file is a change (the consumer's checker then fails and the old child
// keeps serving), and so is its re-creation.
const stateMissing = "missing"

// contentState summarises a file's content: the sha256 of the bytes it
// resolves to (following symlinks, so a `..data` swap is seen), stateMissing,
// or the read error. Two states differ exactly when a reload is warranted.
func contentState(path string) string {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return stateMissing
	}
	if err != nil {
		return "unreadable: " + err.Error()
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "unreadable: " + err.Error()
	}
	return hex.EncodeToString(h.Sum(nil))
}
