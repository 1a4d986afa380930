package replica

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"noroshi/crypto/envelope"
)

// A bundle is envelopes in a file, for air gaps and invites. Its plaintext
// (callers encrypt it with age) is:
//
//	magic     "noroshi-bundle\n"
//	version   u32 = 1
//	metaLen   u32, then metaLen bytes of the caller's metadata (at most MaxBundleMeta)
//	repeated: u32 length (1 to MaxEnvelope), then one envelope encoding
//	end       u32 = 0
//
// Import is idempotent: the store admits what it lacks and counts the rest as
// duplicates.
const (
	bundleMagic   = "noroshi-bundle\n"
	bundleVersion = 1
	// MaxBundleMeta bounds a bundle's metadata.
	MaxBundleMeta = 1 << 20
	// MaxEnvelope bounds one envelope's encoding.
	MaxEnvelope = 2 + envelope.MaxHeaderSize + 4 + envelope.MaxPayload
)

// BundleWriter writes a bundle.
type BundleWriter struct {
	w     *bufio.Writer
	count int
}

// NewBundleWriter writes the bundle's header and meta to w.
func NewBundleWriter(w io.Writer, meta []byte) (*BundleWriter, error) {
	if len(meta) > MaxBundleMeta {
		return nil, fmt.Errorf("bundle metadata of %d bytes, at most %d", len(meta), MaxBundleMeta)
	}
	bw := &BundleWriter{w: bufio.NewWriterSize(w, 64<<10)}
	bw.w.WriteString(bundleMagic)
	bw.w.Write(binary.BigEndian.AppendUint32(nil, bundleVersion))
	bw.w.Write(binary.BigEndian.AppendUint32(nil, uint32(len(meta))))
	bw.w.Write(meta)
	return bw, nil
}

// Add writes one envelope.
func (bw *BundleWriter) Add(e *envelope.Envelope) error {
	b, err := e.Encode()
	if err != nil {
		return err
	}
	bw.w.Write(binary.BigEndian.AppendUint32(nil, uint32(len(b))))
	_, err = bw.w.Write(b)
	bw.count++
	return err
}

// Count returns how many envelopes were added.
func (bw *BundleWriter) Count() int { return bw.count }

// Close writes the end marker and flushes. It does not close the underlying writer.
func (bw *BundleWriter) Close() error {
	bw.w.Write(binary.BigEndian.AppendUint32(nil, 0))
	return bw.w.Flush()
}

// BundleReader reads a bundle.
type BundleReader struct {
	r    *bufio.Reader
	Meta []byte
	done bool
}

// ErrNotBundle is returned for data that is not a bundle.
var ErrNotBundle = errors.New("not a Noroshi bundle")

// NewBundleReader reads the bundle's header and meta.
func NewBundleReader(r io.Reader) (*BundleReader, error) {
	br := &BundleReader{r: bufio.NewReaderSize(r, 64<<10)}
	magic := make([]byte, len(bundleMagic))
	if _, err := io.ReadFull(br.r, magic); err != nil || string(magic) != bundleMagic {
		return nil, ErrNotBundle
	}
	var hdr [8]byte
	if _, err := io.ReadFull(br.r, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: truncated header", ErrNotBundle)
	}
	if v := binary.BigEndian.Uint32(hdr[:4]); v != bundleVersion {
		return nil, fmt.Errorf("bundle version %d, this program reads %d: upgrade Noroshi", v, bundleVersion)
	}
	n := binary.BigEndian.Uint32(hdr[4:])
	if n > MaxBundleMeta {
		return nil, fmt.Errorf("%w: metadata of %d bytes", ErrNotBundle, n)
	}
	meta, err := readN(br.r, int(n))
	if err != nil {
		return nil, fmt.Errorf("%w: truncated metadata", ErrNotBundle)
	}
	br.Meta = meta
	return br, nil
}

// readN reads exactly n bytes. Its buffer grows as the bytes arrive, so that
// a length field cannot make it allocate much more than the input holds.
func readN(r io.Reader, n int) ([]byte, error) {
	const chunk = 64 << 10
	b := make([]byte, 0, min(n, chunk))
	for len(b) < n {
		if len(b) == cap(b) {
			b = slices.Grow(b, min(len(b), n-len(b)))
		}
		k, err := io.ReadFull(r, b[len(b):min(cap(b), n)])
		b = b[:len(b)+k]
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

// Next returns the next envelope, or io.EOF after the last one.
func (br *BundleReader) Next() (*envelope.Envelope, error) {
	if br.done {
		return nil, io.EOF
	}
	var lb [4]byte
	if _, err := io.ReadFull(br.r, lb[:]); err != nil {
		return nil, fmt.Errorf("bundle truncated (no end marker): %w", io.ErrUnexpectedEOF)
	}
	n := binary.BigEndian.Uint32(lb[:])
	if n == 0 {
		br.done = true
		return nil, io.EOF
	}
	if n > MaxEnvelope {
		return nil, fmt.Errorf("bundle holds an envelope of %d bytes, at most %d", n, MaxEnvelope)
	}
	b, err := readN(br.r, int(n))
	if err != nil {
		return nil, fmt.Errorf("bundle truncated: %w", io.ErrUnexpectedEOF)
	}
	return envelope.Decode(b)
}
