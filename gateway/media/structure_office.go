package media

import (
	"archive/zip"
	"encoding/xml"
	"fmt"
	"io"
	"path"
	"strings"
)

// Office package limits: entries in one package, and the bytes read of a
// package part the check parses.
const (
	maxOfficeEntries  = 10000
	maxOfficePartRead = 1 * MB
	// A zip bomb inflates a thousandfold; XML and media in real documents
	// compress ten- to twentyfold. Entries over a MB may not claim more than
	// 100 times their compressed size, nor the package more than 1 GB in all
	// (whoever opens it inflates it: an agent's word processor, WhatsApp).
	maxOfficeRatio    = 100
	maxOfficeInflated = 1024 * MB
)

// officeMainTypes is the content type of each Office kind's main part (the
// macro-free document, not a template or macro-enabled variant).
var officeMainTypes = map[string]string{
	MimeDOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
	MimeXLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
	MimePPTX: "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
}

// executableExts are entry extensions no document needs to carry.
var executableExts = map[string]bool{
	".exe": true, ".dll": true, ".scr": true, ".com": true, ".bat": true, ".cmd": true, ".ps1": true,
	".vbs": true, ".js": true, ".jse": true, ".wsf": true, ".jar": true, ".msi": true, ".sh": true, ".lnk": true,
}

// checkOffice wants an Office Open XML package: a ZIP (found by its
// end-of-central-directory record, at most 10000 entries, no entry path
// escaping the package), whose [Content_Types].xml and package
// relationships (_rels/.rels) name a main document part that exists and has
// the main content type of the detected kind. Macros (vbaProject.bin) and
// executables inside are refused.
func checkOffice(f file, size int64, d *detection) (*Refusal, error) {
	bad := func(format string, args ...any) *Refusal {
		return unsupported(d.detected, "detected %s but it is not a valid Office document: %s", d.detected, fmt.Sprintf(format, args...))
	}
	at, tail, err := findEOCD(f, size)
	if err != nil {
		return nil, err
	}
	if at < 0 {
		return bad("no ZIP end-of-central-directory record"), nil
	}
	eocd := tail[at-(size-int64(len(tail))):]
	if n := le16(eocd, 10); n == 0xFFFF || n > maxOfficeEntries {
		return bad("more than %d entries", maxOfficeEntries), nil
	}
	zr, err := zip.NewReader(io.NewSectionReader(f, 0, size), size)
	if err != nil {
		return bad("the ZIP directory is unreadable (%v)", err), nil
	}
	parts := make(map[string]*zip.File, len(zr.File))
	var inflated uint64
	for _, e := range zr.File {
		inflated += e.UncompressedSize64
		if inflated > maxOfficeInflated {
			return bad("its entries inflate to more than %s", FormatSize(maxOfficeInflated)), nil
		}
		if e.UncompressedSize64 > MB && e.UncompressedSize64/maxOfficeRatio > e.CompressedSize64 {
			return bad("entry %q inflates %d bytes to %d (a zip bomb)", e.Name, e.CompressedSize64, e.UncompressedSize64), nil
		}
		name := e.Name
		clean := path.Clean(name)
		if strings.HasPrefix(name, "/") || strings.Contains(name, `\`) || clean == ".." || strings.HasPrefix(clean, "../") {
			return bad("entry %q escapes the package", name), nil
		}
		base := strings.ToLower(path.Base(name))
		if base == "vbaproject.bin" {
			return bad("it carries macros (%s)", name), nil
		}
		if executableExts[path.Ext(base)] {
			return bad("it carries an executable (%s)", name), nil
		}
		parts[name] = e
	}
	ct, r := readContentTypes(parts["[Content_Types].xml"])
	if r != "" {
		return bad("%s", r), nil
	}
	main, r := mainPart(parts["_rels/.rels"])
	if r != "" {
		return bad("%s", r), nil
	}
	if parts[main] == nil {
		return bad("the main part %s is missing", main), nil
	}
	want := officeMainTypes[d.t.MimeType]
	if got := ct.typeOf(main); got != want {
		return bad("its main part %s is %q, not %q", main, got, want), nil
	}
	return nil, nil
}

type contentTypes struct {
	Defaults []struct {
		Extension   string `xml:"Extension,attr"`
		ContentType string `xml:"ContentType,attr"`
	} `xml:"Default"`
	Overrides []struct {
		PartName    string `xml:"PartName,attr"`
		ContentType string `xml:"ContentType,attr"`
	} `xml:"Override"`
}

// typeOf is the content type of part (a name inside the ZIP): its
// Override, else the Default of its extension.
func (c contentTypes) typeOf(part string) string {
	for _, o := range c.Overrides {
		if strings.EqualFold(strings.TrimPrefix(o.PartName, "/"), part) {
			return o.ContentType
		}
	}
	ext := strings.TrimPrefix(path.Ext(part), ".")
	for _, d := range c.Defaults {
		if strings.EqualFold(d.Extension, ext) {
			return d.ContentType
		}
	}
	return ""
}

func readContentTypes(e *zip.File) (contentTypes, string) {
	var ct contentTypes
	if e == nil {
		return ct, "[Content_Types].xml is missing"
	}
	if err := decodePart(e, &ct); err != nil {
		return ct, "[Content_Types].xml is unreadable"
	}
	return ct, ""
}

// mainPart returns the target of the package's officeDocument
// relationship, as a name inside the ZIP.
func mainPart(e *zip.File) (string, string) {
	if e == nil {
		return "", "_rels/.rels is missing"
	}
	var rels struct {
		Relationships []struct {
			Type   string `xml:"Type,attr"`
			Target string `xml:"Target,attr"`
		} `xml:"Relationship"`
	}
	if err := decodePart(e, &rels); err != nil {
		return "", "_rels/.rels is unreadable"
	}
	for _, r := range rels.Relationships {
		if strings.HasSuffix(r.Type, "/officeDocument") {
			return path.Clean(strings.TrimPrefix(r.Target, "/")), ""
		}
	}
	return "", "_rels/.rels names no main document"
}

// decodePart parses a small XML part, reading at most maxOfficePartRead
// bytes of it.
func decodePart(e *zip.File, v any) error {
	if e.UncompressedSize64 > maxOfficePartRead {
		return fmt.Errorf("part %s is larger than %d bytes", e.Name, maxOfficePartRead)
	}
	rc, err := e.Open()
	if err != nil {
		return err
	}
	defer func() { _ = rc.Close() }()
	return xml.NewDecoder(io.LimitReader(rc, maxOfficePartRead)).Decode(v)
}
