//go:build !linux

package replica

// ReleaseMemory does nothing here: only Linux is told to drop the store
// map's resident pages (see release_linux.go).
func (s *Store) ReleaseMemory() {}
