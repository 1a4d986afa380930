// Command icons derives the desktop icons the packages ship from the app's
// own icon (cmd/noroshi/Icon.png): one PNG per size in the freedesktop
// hicolor layout, DIR/hicolor/NxN/apps/noroshi.png. The output depends on
// the input alone, so two builds write the same bytes.
//
//	go run ./packaging/icons -src cmd/noroshi/Icon.png -out dist/.stage/icons
package main

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/image/draw"
)

// sizes are the hicolor sizes the desktop menus and launchers ask for.
var sizes = []int{16, 24, 32, 48, 64, 128, 256}

// maxIcon bounds what is read of the source icon.
const maxIcon = 8 << 20

func main() {
	src := flag.String("src", "cmd/noroshi/Icon.png", "the app's icon (PNG, square)")
	out := flag.String("out", "", "directory to write the hicolor tree into")
	name := flag.String("name", "noroshi", "the icon's name (the desktop entry's Icon=)")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "icons: give -out DIR")
		os.Exit(2)
	}
	if err := run(*src, *out, *name); err != nil {
		fmt.Fprintf(os.Stderr, "icons: %v\n", err)
		os.Exit(1)
	}
}

func run(src, out, name string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxIcon+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", src, err)
	}
	if len(b) > maxIcon {
		return fmt.Errorf("%s is larger than %d bytes", src, maxIcon)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	if r := img.Bounds(); r.Dx() != r.Dy() {
		return fmt.Errorf("%s is %dx%d: an icon must be square", src, r.Dx(), r.Dy())
	}
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	for _, n := range sizes {
		dst := image.NewNRGBA(image.Rect(0, 0, n, n))
		if n == img.Bounds().Dx() {
			draw.Copy(dst, image.Point{}, img, img.Bounds(), draw.Src, nil)
		} else {
			draw.CatmullRom.Scale(dst, dst.Bounds(), img, img.Bounds(), draw.Src, nil)
		}
		dir := filepath.Join(out, "hicolor", fmt.Sprintf("%dx%d", n, n), "apps")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := enc.Encode(&buf, dst); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}
