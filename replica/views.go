package replica

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// bViews is the bucket under which the store keeps views: what a consumer
// (app) folds from the envelopes and wants to find again at the next open.
// The store never reads them; they are the consumer's, in its own format,
// and it seals what it writes there (see app's view key). Keeping them in
// the same file means one lock, one fsync policy and one backup.
var bViews = []byte("views")

// ViewTx is a transaction over the view buckets. It is valid only inside
// the function it was passed to.
type ViewTx struct {
	tx   *bolt.Tx
	root *bolt.Bucket // nil in a read transaction before any view was written
}

// ViewUpdate runs fn in a read-write transaction over the views, committed
// (with fsync) when fn returns nil and rolled back otherwise. It does not go
// through the envelope writer: bbolt serialises the two.
func (s *Store) ViewUpdate(fn func(*ViewTx) error) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(bViews)
		if err != nil {
			return fmt.Errorf("views: %w", err)
		}
		return fn(&ViewTx{tx: tx, root: root})
	})
}

// ViewRead runs fn in a read-only transaction over the views.
func (s *Store) ViewRead(fn func(*ViewTx) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return fn(&ViewTx{tx: tx, root: tx.Bucket(bViews)})
	})
}

// Bucket returns the named view bucket. In a read-write transaction it is
// made when missing; in a read-only one a missing bucket reads as empty.
func (t *ViewTx) Bucket(name string) *ViewBucket {
	if t.root == nil {
		return &ViewBucket{}
	}
	if b := t.root.Bucket([]byte(name)); b != nil {
		return &ViewBucket{b: b}
	}
	if !t.tx.Writable() {
		return &ViewBucket{}
	}
	b, err := t.root.CreateBucket([]byte(name))
	if err != nil {
		return &ViewBucket{err: err}
	}
	return &ViewBucket{b: b}
}

// Buckets returns the names of the view buckets, in name order.
func (t *ViewTx) Buckets() []string {
	var names []string
	if t.root == nil {
		return nil
	}
	t.root.ForEachBucket(func(k []byte) error {
		names = append(names, string(k))
		return nil
	})
	return names
}

// Reset deletes every view bucket, for a rebuild from scratch.
func (t *ViewTx) Reset() error {
	if !t.tx.Writable() {
		return errors.New("views: reset in a read-only transaction")
	}
	var names [][]byte
	if err := t.root.ForEachBucket(func(k []byte) error {
		names = append(names, append([]byte(nil), k...))
		return nil
	}); err != nil {
		return err
	}
	for _, n := range names {
		if err := t.root.DeleteBucket(n); err != nil {
			return fmt.Errorf("views: reset %s: %w", n, err)
		}
	}
	return nil
}

// ViewBucket is one bucket of views: keys to values, in key order. Values
// returned by Get and cursors are valid only inside the transaction.
type ViewBucket struct {
	b   *bolt.Bucket
	err error // why the bucket could not be made
}

// Get returns the value of k, nil when unset.
func (b *ViewBucket) Get(k []byte) []byte {
	if b.b == nil {
		return nil
	}
	return b.b.Get(k)
}

// Put sets k to v.
func (b *ViewBucket) Put(k, v []byte) error {
	if b.b == nil {
		return b.missing()
	}
	return b.b.Put(k, v)
}

// Delete removes k; removing a missing key is not an error.
func (b *ViewBucket) Delete(k []byte) error {
	if b.b == nil {
		return b.missing()
	}
	return b.b.Delete(k)
}

// Len returns the number of keys.
func (b *ViewBucket) Len() int {
	if b.b == nil {
		return 0
	}
	return b.b.Stats().KeyN
}

func (b *ViewBucket) missing() error {
	if b.err != nil {
		return fmt.Errorf("views: %w", b.err)
	}
	return errors.New("views: write in a read-only transaction")
}

// Cursor returns a cursor over the bucket.
func (b *ViewBucket) Cursor() *ViewCursor {
	if b.b == nil {
		return &ViewCursor{}
	}
	return &ViewCursor{c: b.b.Cursor()}
}

// ViewCursor walks a view bucket in key order. Every method returns a nil
// key at either end.
type ViewCursor struct{ c *bolt.Cursor }

func (c *ViewCursor) First() ([]byte, []byte) {
	if c.c == nil {
		return nil, nil
	}
	return c.c.First()
}

func (c *ViewCursor) Last() ([]byte, []byte) {
	if c.c == nil {
		return nil, nil
	}
	return c.c.Last()
}

func (c *ViewCursor) Seek(k []byte) ([]byte, []byte) {
	if c.c == nil {
		return nil, nil
	}
	return c.c.Seek(k)
}

func (c *ViewCursor) Next() ([]byte, []byte) {
	if c.c == nil {
		return nil, nil
	}
	return c.c.Next()
}

func (c *ViewCursor) Prev() ([]byte, []byte) {
	if c.c == nil {
		return nil, nil
	}
	return c.c.Prev()
}

// Delete removes the key the cursor is at.
func (c *ViewCursor) Delete() error {
	if c.c == nil {
		return errors.New("views: delete on an empty cursor")
	}
	return c.c.Delete()
}

// CopyTo writes a consistent copy of the store file, views included, to
// path (a backup, or a reference to compare with), from one read
// transaction.
func (s *Store) CopyTo(path string) error {
	return s.db.View(func(tx *bolt.Tx) error { return tx.CopyFile(path, 0o600) })
}
