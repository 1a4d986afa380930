package stix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Limits bounds what Read accepts.
type Limits struct {
	// MaxBytes bounds the whole document.
	MaxBytes int64
	// MaxObjects bounds the objects of a bundle.
	MaxObjects int
	// MaxObject bounds one object's encoding.
	MaxObject int
}

// DefaultLimits are generous for threat reports and small for a laptop:
// 64 MiB, 100,000 objects, 1 MiB an object.
var DefaultLimits = Limits{MaxBytes: 64 << 20, MaxObjects: 100000, MaxObject: 1 << 20}

// Errors Read returns, wrapped with the details.
var (
	// ErrTooLarge: the document, an object or the object count is over a
	// limit.
	ErrTooLarge = errors.New("stix: too large")
	// ErrNotSTIX: the document is JSON but not a STIX bundle or object.
	ErrNotSTIX = errors.New("stix: not a STIX bundle or object")
	// ErrSyntax: the document is not valid JSON.
	ErrSyntax = errors.New("stix: not valid JSON")
)

// Document is what Read found: a bundle's objects (a lone object reads as
// a bundle of one), or, for a JSON schema (the OASIS repository holds
// both), Schema set and no objects.
type Document struct {
	// BundleID is the bundle's ID, "" for a lone object.
	BundleID string
	Objects  []Object
	// Schema is set when the document is a JSON schema, not STIX content.
	Schema bool
}

// Read reads a STIX 2.1 bundle (or one object) from r within the limits.
// Every object must have a type and an ID of that type; errors name the
// object by its position.
func Read(r io.Reader, lim Limits) (Document, error) {
	if lim.MaxBytes <= 0 {
		lim = DefaultLimits
	}
	b, err := io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	if err != nil {
		return Document{}, fmt.Errorf("stix: read: %w", err)
	}
	if int64(len(b)) > lim.MaxBytes {
		return Document{}, fmt.Errorf("%w: larger than %d bytes", ErrTooLarge, lim.MaxBytes)
	}
	return Parse(b, lim)
}

// Parse is Read over bytes already in memory.
func Parse(b []byte, lim Limits) (Document, error) {
	if lim.MaxBytes <= 0 {
		lim = DefaultLimits
	}
	if int64(len(b)) > lim.MaxBytes {
		return Document{}, fmt.Errorf("%w: larger than %d bytes", ErrTooLarge, lim.MaxBytes)
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(b) {
		return Document{}, fmt.Errorf("%w: not UTF-8 text", ErrSyntax)
	}
	var top struct {
		Type    string            `json:"type"`
		ID      string            `json:"id"`
		Schema  json.RawMessage   `json:"$schema"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(b, new(json.RawMessage)); err != nil {
		return Document{}, syntaxErr(err)
	}
	if err := json.Unmarshal(b, &top); err != nil {
		return Document{}, fmt.Errorf("%w: %v", ErrNotSTIX, err)
	}
	switch {
	case top.Schema != nil:
		return Document{Schema: true}, nil
	case top.Type == "bundle":
		if TypeOf(top.ID) != "bundle" {
			return Document{}, fmt.Errorf("%w: bundle id %q is not bundle--<uuid>", ErrNotSTIX, clip(top.ID))
		}
		if len(top.Objects) > lim.MaxObjects {
			return Document{}, fmt.Errorf("%w: %d objects, at most %d", ErrTooLarge, len(top.Objects), lim.MaxObjects)
		}
		d := Document{BundleID: top.ID, Objects: make([]Object, 0, len(top.Objects))}
		for i, raw := range top.Objects {
			o, err := object(raw, lim)
			if err != nil {
				return Document{}, fmt.Errorf("object %d: %w", i+1, err)
			}
			d.Objects = append(d.Objects, o)
		}
		return d, nil
	case top.Type != "":
		o, err := object(b, lim)
		if err != nil {
			return Document{}, err
		}
		return Document{Objects: []Object{o}}, nil
	}
	return Document{}, fmt.Errorf("%w: no \"type\" property", ErrNotSTIX)
}

func syntaxErr(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%w: %v at byte %d", ErrSyntax, se, se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: truncated", ErrSyntax)
	}
	return fmt.Errorf("%w: %v", ErrSyntax, err)
}

// object reads one object's common properties.
func object(raw json.RawMessage, lim Limits) (Object, error) {
	if lim.MaxObject > 0 && len(raw) > lim.MaxObject {
		return Object{}, fmt.Errorf("%w: object of %d bytes, at most %d", ErrTooLarge, len(raw), lim.MaxObject)
	}
	var props map[string]json.RawMessage
	if err := json.Unmarshal(raw, &props); err != nil || props == nil {
		return Object{}, fmt.Errorf("%w: an object must be a JSON object", ErrNotSTIX)
	}
	// The type and ID must be strings; other properties are read when
	// they have the type STIX gives them, and left out when not (a custom
	// object may use a name for something else).
	str := func(k string) string {
		var v string
		json.Unmarshal(props[k], &v)
		return v
	}
	o := Object{Type: str("type"), ID: str("id"), Created: str("created"), Modified: str("modified"),
		CreatedByRef: str("created_by_ref"), Name: str("name"), Value: str("value")}
	o.ObjectMarkingRefs, o.GranularMarkingRefs, o.MarkingsMalformed = markings(props)
	if o.Type == "" {
		return Object{}, fmt.Errorf("%w: no \"type\" property", ErrNotSTIX)
	}
	if TypeOf(o.ID) != o.Type {
		return Object{}, fmt.Errorf("%w: %s id %q is not %s--<uuid>", ErrNotSTIX, clip(o.Type), clip(o.ID), clip(o.Type))
	}
	o.Raw = raw
	return o, nil
}

// markings reads an object's marking references: object_marking_refs and
// the marking_ref of each granular marking. malformed is set when either
// property is there (and not null) but not of the STIX shape; the entries
// that are marking IDs are returned still.
func markings(props map[string]json.RawMessage) (refs, granular []string, malformed bool) {
	if raw, ok := props["object_marking_refs"]; ok && string(raw) != "null" {
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil {
			malformed = true
		}
		for _, e := range list {
			var id string
			if json.Unmarshal(e, &id) != nil {
				malformed = true
				continue
			}
			refs = append(refs, id)
		}
	}
	if raw, ok := props["granular_markings"]; ok && string(raw) != "null" {
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil {
			malformed = true
		}
		for _, e := range list {
			var g struct {
				MarkingRef *string         `json:"marking_ref"`
				Lang       json.RawMessage `json:"lang"`
			}
			switch {
			case json.Unmarshal(e, &g) != nil:
				malformed = true
			case g.MarkingRef != nil:
				granular = append(granular, *g.MarkingRef)
			case g.Lang == nil:
				// Neither a marking nor a language: unknown.
				malformed = true
			}
		}
	}
	return refs, granular, malformed
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
