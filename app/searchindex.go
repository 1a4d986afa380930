package app

import (
	"bytes"
	"encoding/binary"
	"slices"
)

// The sliced search index finds the few posts that may hold a rare term
// without walking every signature. Posts are numbered in the order they are
// folded; each block of sliceBlock posts has, for each of sliceBits bit
// positions, a bitmap of the block's posts whose terms set that bit (a
// Bloom filter per post, stored by columns: a bit-sliced signature file).
// A query reads the sigHashes columns of each of its terms in each block,
// ANDs them, and gets the block's candidates; when there are few, it opens
// them in feed order. When there are many (a common word, a first letter)
// the feed walk of search.go fills a page faster, so the query falls back
// to it.
//
//	pnum   post number (u32) -> feedKey
//	slice  block (u32) || bit (u16) -> bitmap of sliceBlock bits
const (
	vbPnum  = "pnum"
	vbSlice = "slice"
	// sliceBlock posts share one bitmap per bit position.
	sliceBlock = 4096
	// sliceBits is the width of a post's signature in the sliced index.
	sliceBits = 2048
	// maxSliceCandidates is the most candidates the sliced index sorts;
	// beyond it the feed walk answers.
	maxSliceCandidates = 5000
)

var metaPostN = []byte("postn")

// slices holds the columns a view transaction changed, written once at its
// end (see flushSlices).
type sliceCache struct {
	cols  map[[6]byte][]byte
	postn uint32
	read  bool // postn loaded from meta
}

// slicePost numbers a post and sets its terms' bits in its block.
func (t *vtx) slicePost(fk []byte, terms []termHash) error {
	c := &t.sl
	if !c.read {
		if v := t.b(vbMeta).Get(metaPostN); len(v) == 4 {
			c.postn = binary.BigEndian.Uint32(v)
		}
		c.read = true
		c.cols = map[[6]byte][]byte{}
	}
	n := c.postn
	c.postn++
	if err := t.b(vbPnum).Put(binary.BigEndian.AppendUint32(nil, n), fk); err != nil {
		return err
	}
	block := n / sliceBlock
	bit := n % sliceBlock
	for _, th := range terms {
		for i := uint32(0); i < sigHashes; i++ {
			pos := (th.h1 + i*th.h2) % sliceBits
			var key [6]byte
			binary.BigEndian.PutUint32(key[:4], block)
			binary.BigEndian.PutUint16(key[4:], uint16(pos))
			col, ok := c.cols[key]
			if !ok {
				col = make([]byte, sliceBlock/8)
				copy(col, t.b(vbSlice).Get(key[:]))
				c.cols[key] = col
			}
			col[bit/8] |= 1 << (bit % 8)
		}
	}
	return nil
}

// flushSlices writes the columns this transaction changed.
func (t *vtx) flushSlices() error {
	c := &t.sl
	if !c.read || len(c.cols) == 0 && c.postn == 0 {
		return nil
	}
	b := t.b(vbSlice)
	for k, col := range c.cols {
		if err := b.Put(k[:], col); err != nil {
			return err
		}
	}
	clear(c.cols)
	return t.b(vbMeta).Put(metaPostN, binary.BigEndian.AppendUint32(nil, c.postn))
}

// sliceCandidates returns, sorted in feed order, the feed keys of the
// posts that may hold every term of one of the sets; false when there are
// more than maxSliceCandidates (the caller walks the feed instead).
func (t *vtx) sliceCandidates(sets [][]termHash) ([][]byte, bool) {
	var n uint32
	if v := t.b(vbMeta).Get(metaPostN); len(v) == 4 {
		n = binary.BigEndian.Uint32(v)
	}
	if n == 0 {
		return nil, true
	}
	slice, pnum := t.b(vbSlice), t.b(vbPnum)
	seen := map[uint32]bool{}
	var out [][]byte
	acc := make([]byte, sliceBlock/8)
	for _, hs := range sets {
		if len(hs) == 0 {
			return nil, false
		}
		for block := uint32(0); block <= (n-1)/sliceBlock; block++ {
			for i := range acc {
				acc[i] = 0xff
			}
			for _, th := range hs {
				for i := uint32(0); i < sigHashes; i++ {
					pos := (th.h1 + i*th.h2) % sliceBits
					col := slice.Get(binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint32(nil, block), uint16(pos)))
					if col == nil {
						clear(acc)
						break
					}
					for j := range acc {
						acc[j] &= col[j]
					}
				}
			}
			for j, b := range acc {
				for ; b != 0; b &= b - 1 {
					p := block*sliceBlock + uint32(j)*8 + uint32(trailingZeros8(b))
					if seen[p] {
						continue
					}
					seen[p] = true
					if len(seen) > maxSliceCandidates {
						return nil, false
					}
					if fk := pnum.Get(binary.BigEndian.AppendUint32(nil, p)); fk != nil {
						out = append(out, bytes.Clone(fk))
					}
				}
			}
		}
	}
	slices.SortFunc(out, bytes.Compare)
	return out, true
}

func trailingZeros8(b byte) int {
	n := 0
	for b&1 == 0 {
		b >>= 1
		n++
	}
	return n
}
