package replica

import (
	"syscall"
	"unsafe"

	bolt "go.etcd.io/bbolt"
)

// ReleaseMemory drops this process's resident pages of the store file's
// memory map (madvise MADV_DONTNEED). They stay in the kernel's page cache,
// so the next read faults them back in cheaply; the process's resident set
// goes back to its own heap. A long read (a whole feed, a search over every
// post) touches most of the file: calling this afterwards keeps a relay's
// resident memory bounded by what it holds, not by what it once read.
func (s *Store) ReleaseMemory() {
	// Inside a read transaction the map cannot move: bbolt remaps only
	// when no read transaction is open.
	s.db.View(func(tx *bolt.Tx) error {
		info := s.db.Info()
		size := tx.Size()
		if info == nil || info.Data == 0 || size <= 0 {
			return nil
		}
		// info.Data is the address of the map, outside the Go heap: read
		// its bits as a pointer.
		base := *(*unsafe.Pointer)(unsafe.Pointer(&info.Data))
		data := unsafe.Slice((*byte)(base), size)
		if err := syscall.Madvise(data, syscall.MADV_DONTNEED); err != nil {
			s.cfg.Logf("release store pages: %v", err)
		}
		return nil
	})
}
