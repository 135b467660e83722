package sqlite

import (
	"context"
	"errors"
	"syscall"

	sqlitedrv "modernc.org/sqlite"

	"github.com/authledger/authledger/eventstore"
)

// SQLite primary result codes (https://sqlite.org/rescode.html) that mean
// the file cannot be read or written now, not that the request is wrong.
const (
	codeBusy     = 5  // SQLITE_BUSY: another connection holds the lock past the busy timeout
	codeLocked   = 6  // SQLITE_LOCKED
	codeNoMem    = 7  // SQLITE_NOMEM
	codeReadOnly = 8  // SQLITE_READONLY: the file, directory or mount is read-only
	codeIOErr    = 10 // SQLITE_IOERR
	codeFull     = 13 // SQLITE_FULL: disk full
	codeCantOpen = 14 // SQLITE_CANTOPEN
)

// classify marks the outages among err (eventstore.Unavailable); every
// other error is returned unchanged.
func classify(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var se *sqlitedrv.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case codeBusy, codeLocked, codeNoMem, codeReadOnly, codeIOErr, codeFull, codeCantOpen:
			return eventstore.Unavailable(err)
		}
		return err
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EIO) || errors.Is(err, syscall.EACCES) {
		return eventstore.Unavailable(err)
	}
	return err
}
