package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/authledger/authledger/eventstore"
)

// minFreeBytes is the free space below which the ledger's filesystem is
// taken as full: a group-commit batch and its WAL frames need some room,
// and a filesystem with less than this left fails appends soon enough.
const minFreeBytes = 1 << 20

var _ eventstore.WritableChecker = (*Store)(nil)

// CheckWritable reports, without writing, whether appends can succeed:
// the ledger file, its -wal file and its directory accept writes (a
// read-only mount, an immutable file, lost permissions) and the
// filesystem has room.
func (s *Store) CheckWritable(context.Context) error {
	for _, p := range []string{s.path, s.path + "-wal", filepath.Dir(s.path)} {
		err := unix.Access(p, unix.W_OK)
		if errors.Is(err, fs.ErrNotExist) && p != s.path {
			continue // the -wal file comes and goes with checkpoints
		}
		if err != nil {
			return eventstore.Unavailable(&os.PathError{Op: "check writable", Path: p, Err: err})
		}
	}
	var st unix.Statfs_t
	if err := unix.Statfs(filepath.Dir(s.path), &st); err != nil {
		return eventstore.Unavailable(&os.PathError{Op: "statfs", Path: filepath.Dir(s.path), Err: err})
	}
	if free := uint64(st.Bavail) * uint64(st.Bsize); free < minFreeBytes {
		return eventstore.Unavailable(fmt.Errorf("sqlite: %s: %d bytes free: %w", filepath.Dir(s.path), free, unix.ENOSPC))
	}
	return nil
}
