package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"noroshi/app"
)

// feedChunk is how many posts `feed` reads from the app at a time. A long
// listing (--limit 0 lists every post) is read a chunk at a time, each
// chunk after the last post of the one before (FeedFilter.Before), and
// written out before the next is read: neither the CLI nor the holder of
// the home ever holds the whole feed. A variable so that tests can make a
// small feed span many chunks.
var feedChunk = 500

// feedEach reads at most limit posts (0: all) matching f, newest first,
// in chunks of feedChunk, and hands each chunk to page as it comes. It
// reports whether more posts follow the last one handed.
func feedEach(a *app.App, f app.FeedFilter, limit int, page func([]app.PostSummary) error) (bool, error) {
	left := limit
	for {
		want := feedChunk
		if limit > 0 {
			want = min(want, left)
		}
		f.Limit = want + 1 // one more says whether there is a next chunk
		posts := a.Feed(f)
		more := len(posts) > want
		if more {
			posts = posts[:want]
		}
		if len(posts) > 0 {
			if err := page(posts); err != nil {
				return false, err
			}
		}
		if !more {
			return false, nil
		}
		if limit > 0 {
			if left -= want; left == 0 {
				return true, nil
			}
		}
		f.Before = posts[len(posts)-1].ID
	}
}

// resolveBefore finds the post that --before names (a full ID, or a
// prefix that names one post) and returns its full ID: the feed continues
// after it.
func resolveBefore(a *app.App, q string) (string, error) {
	d, err := a.Show(q)
	switch {
	case err == nil:
		return d.ID, nil
	case errors.Is(err, app.ErrNotFound), errors.Is(err, app.ErrInvalid):
		return "", fmt.Errorf("%w: --before %s: no post ID %s; give the full ID of the last post of the previous page (the \"more:\" line names it)", app.ErrNotFound, q, q)
	case errors.Is(err, app.ErrRetracted):
		return "", fmt.Errorf("--before: %w; continue from the post listed before it", err)
	}
	return "", fmt.Errorf("--before: %w", err)
}

// jsonArray writes a JSON array an element at a time, in the shape that
// emit gives a whole slice (two-space indent, HTML not escaped): valid
// JSON once closed.
type jsonArray struct {
	w   io.Writer
	n   int
	buf bytes.Buffer
	enc *json.Encoder
}

func newJSONArray(w io.Writer) *jsonArray {
	a := &jsonArray{w: w}
	a.enc = json.NewEncoder(&a.buf)
	a.enc.SetIndent("  ", "  ")
	a.enc.SetEscapeHTML(false)
	return a
}

// add encodes v into the array's buffer; flush writes it out.
func (a *jsonArray) add(v any) error {
	if a.n == 0 {
		a.buf.WriteString("[\n  ")
	} else {
		a.buf.WriteString(",\n  ")
	}
	if err := a.enc.Encode(v); err != nil {
		return err
	}
	a.buf.Truncate(a.buf.Len() - 1) // Encode ends with a newline
	a.n++
	return nil
}

func (a *jsonArray) flush() error {
	_, err := a.w.Write(a.buf.Bytes())
	a.buf.Reset()
	return err
}

// close ends the array.
func (a *jsonArray) close() error {
	if a.n == 0 {
		a.buf.WriteString("[]\n")
	} else {
		a.buf.WriteString("\n]\n")
	}
	return a.flush()
}

// listFeed writes at most limit posts (0: all) matching f as feed lists
// them: JSON with --json, else header then a line per post ("no posts"
// when none). It returns how many it wrote, the last one's ID and whether
// more follow.
func (c *cli) listFeed(a *app.App, f app.FeedFilter, limit int, header func(w io.Writer)) (n int, last string, more bool, err error) {
	if c.o.json {
		arr := newJSONArray(c.out())
		more, err = feedEach(a, f, limit, func(posts []app.PostSummary) error {
			for _, p := range posts {
				if err := arr.add(p); err != nil {
					return err
				}
			}
			n, last = n+len(posts), posts[len(posts)-1].ID
			return arr.flush()
		})
		if err != nil {
			return n, last, false, err
		}
		return n, last, more, arr.close()
	}
	bw := bufio.NewWriter(c.out())
	header(bw)
	more, err = feedEach(a, f, limit, func(posts []app.PostSummary) error {
		for _, p := range posts {
			printSummary(bw, p)
		}
		n, last = n+len(posts), posts[len(posts)-1].ID
		return bw.Flush()
	})
	if err != nil {
		return n, last, false, err
	}
	if n == 0 {
		fmt.Fprintln(bw, "no posts")
	}
	return n, last, more, bw.Flush()
}
