package app

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
)

// Attachments travel as chunk envelopes sealed to the same audience as the
// record that names them (a post, an incident), written just before it in
// the author's chain. The record lists each file's name, size, SHA-256 and
// chunk envelope IDs.

// attachmentBuilders returns builders for the chunk envelopes of files, and
// a function that, once they have been built, returns the references the
// record must carry.
func (a *App) attachmentBuilders(aud crypto.Audience, files []File, exercise string) ([]builder, func() []AttachmentRef) {
	var builders []builder
	chunkIDs := make([][]envelope.Hash, len(files))
	for i, f := range files {
		for off, n := 0, 0; off < len(f.Data) || (off == 0 && len(f.Data) == 0); off, n = off+chunkSize, n+1 {
			end := min(off+chunkSize, len(f.Data))
			build := a.sealed(aud, &Record{Exercise: exercise, Chunk: &ChunkRecord{Index: n}, Blob: f.Data[off:end]})
			builders = append(builders, func(pos crypto.Position, clock uint64) (*envelope.Envelope, error) {
				e, err := build(pos, clock)
				if err == nil {
					chunkIDs[i] = append(chunkIDs[i], e.ID())
				}
				return e, err
			})
			if len(f.Data) == 0 {
				break
			}
		}
	}
	return builders, func() []AttachmentRef {
		var refs []AttachmentRef
		for i, f := range files {
			refs = append(refs, AttachmentRef{Name: f.Name, Size: int64(len(f.Data)), SHA256: sha256.Sum256(f.Data), Chunks: chunkIDs[i]})
		}
		return refs
	}
}

// checkFiles applies the attachment limits.
func checkFiles(files []File, maxAttachment int64) error {
	if len(files) > MaxAttachments {
		return fmt.Errorf("%w: %d attachments, at most %d", ErrTooLarge, len(files), MaxAttachments)
	}
	names := map[string]bool{}
	for _, f := range files {
		if f.Name == "" || strings.ContainsAny(f.Name, "/\\\x00") {
			return fmt.Errorf("%w: attachment name %q: use a plain file name", ErrInvalid, f.Name)
		}
		if names[f.Name] {
			return fmt.Errorf("%w: two attachments named %q", ErrInvalid, f.Name)
		}
		names[f.Name] = true
		if int64(len(f.Data)) > maxAttachment {
			return fmt.Errorf("%w: attachment %q is %d bytes, at most %d: share a link or split it", ErrTooLarge, f.Name, len(f.Data), maxAttachment)
		}
	}
	return nil
}

// attachmentViews describes refs for a detail view.
func attachmentViews(refs []AttachmentRef) []Attachment {
	out := []Attachment{}
	for _, f := range refs {
		out = append(out, Attachment{Name: f.Name, Size: f.Size, SHA256: f.SHA256.String()})
	}
	return out
}

// attachment reassembles the file called name among refs of a record (what
// says "post" or "incident" in errors), checked against its hash.
func (a *App) attachment(refs []AttachmentRef, name, what string) ([]byte, error) {
	var ref *AttachmentRef
	var names []string
	for i := range refs {
		names = append(names, refs[i].Name)
		if refs[i].Name == name {
			ref = &refs[i]
		}
	}
	if ref == nil && len(names) == 0 {
		return nil, fmt.Errorf("%w: no attachment %q: this %s has no attachments", ErrNotFound, name, what)
	}
	if ref == nil {
		return nil, fmt.Errorf("%w: no attachment %q on this %s (it has: %s)", ErrNotFound, name, what, strings.Join(names, ", "))
	}
	var out bytes.Buffer
	for i, cid := range ref.Chunks {
		e, err := a.store.Get(cid)
		if err != nil || e.Payload == nil {
			return nil, fmt.Errorf("%w: part %d of %q is not on this device yet: sync and try again", ErrNotFound, i+1, name)
		}
		a.mu.RLock()
		plain, err := crypto.Open(e, a.identities()...)
		a.mu.RUnlock()
		if err != nil {
			return nil, fmt.Errorf("attachment %q part %d: %w", name, i+1, err)
		}
		rec, err := DecodeRecord(plain)
		if err != nil || rec.Chunk == nil || rec.Chunk.Index != i {
			return nil, fmt.Errorf("attachment %q part %d is damaged", name, i+1)
		}
		out.Write(rec.Blob)
	}
	if int64(out.Len()) != ref.Size || sha256.Sum256(out.Bytes()) != ref.SHA256 {
		return nil, fmt.Errorf("attachment %q does not match its hash: not saved", name)
	}
	return out.Bytes(), nil
}
