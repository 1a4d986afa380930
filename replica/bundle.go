package replica

import (
	"bufio"
	"bytes"
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

// A sectioned bundle file frames sealed sections in clear, so that each can
// be sealed to its own audience (the app seals its trust section to every
// community key epoch and its records to the current one). Format 2:
//
//	magic     "noroshi-sealed-bundle\n"
//	version   u32 = 2
//	count     u32 (1 to MaxSections)
//	repeated count times: u64 length (1 to what remains), then that many bytes
//
// and nothing after the last section. Format 1 is a whole file sealed with
// age; it does not start with this magic.
const (
	sectionsMagic   = "noroshi-sealed-bundle\n"
	sectionsVersion = 2
	// MaxSections bounds the sections of one file.
	MaxSections = 16
)

// IsSectioned reports whether b starts like a sectioned bundle file (of any
// version).
func IsSectioned(b []byte) bool { return bytes.HasPrefix(b, []byte(sectionsMagic)) }

// AppendSections appends a sectioned bundle file holding sections to dst.
func AppendSections(dst []byte, sections ...[]byte) ([]byte, error) {
	if len(sections) == 0 || len(sections) > MaxSections {
		return nil, fmt.Errorf("a bundle file holds 1 to %d sections, not %d", MaxSections, len(sections))
	}
	dst = append(dst, sectionsMagic...)
	dst = binary.BigEndian.AppendUint32(dst, sectionsVersion)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(sections)))
	for i, s := range sections {
		if len(s) == 0 {
			return nil, fmt.Errorf("bundle section %d is empty", i)
		}
		dst = binary.BigEndian.AppendUint64(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	return dst, nil
}

// ReadSections returns the sections of a sectioned bundle file. They alias
// b: nothing is copied, so reading allocates only the list.
func ReadSections(b []byte) ([][]byte, error) {
	if !IsSectioned(b) {
		return nil, ErrNotBundle
	}
	b = b[len(sectionsMagic):]
	if len(b) < 8 {
		return nil, fmt.Errorf("%w: truncated header", ErrNotBundle)
	}
	if v := binary.BigEndian.Uint32(b); v != sectionsVersion {
		return nil, fmt.Errorf("bundle file format %d, this program reads 1 and %d: upgrade Noroshi", v, sectionsVersion)
	}
	n := binary.BigEndian.Uint32(b[4:])
	if n == 0 || n > MaxSections {
		return nil, fmt.Errorf("%w: %d sections, 1 to %d expected", ErrNotBundle, n, MaxSections)
	}
	b = b[8:]
	out := make([][]byte, 0, n)
	for i := range int(n) {
		if len(b) < 8 {
			return nil, fmt.Errorf("bundle truncated in section %d of %d: %w", i+1, n, io.ErrUnexpectedEOF)
		}
		l := binary.BigEndian.Uint64(b)
		b = b[8:]
		if l == 0 {
			return nil, fmt.Errorf("bundle section %d of %d is empty", i+1, n)
		}
		if l > uint64(len(b)) {
			return nil, fmt.Errorf("bundle truncated in section %d of %d: %w", i+1, n, io.ErrUnexpectedEOF)
		}
		out = append(out, b[:l:l])
		b = b[l:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the last section", ErrNotBundle, len(b))
	}
	return out, nil
}
