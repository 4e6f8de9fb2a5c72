"""One entry point, ``read_document``: check the file, sniff what it really is, hand it to one reader.

The extension says what the user thinks the file is; the bytes say what it is. Portals serve HTML named
``.doc``, offices rename RTF, a Word 97 file gets a ``.docx`` name: the content wins, with a warning in the
ingest report. Word-like formats Word itself cannot read as .docx (.doc, .odt, .rtf) go through LibreOffice
to .docx first, so every one of them takes the same numbering path.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
from pathlib import Path

from indexer.reading import libreoffice
from indexer.reading.document import Extracted, RawDocument, ReadOptions
from indexer.reading.docx import read_docx_bytes
from indexer.reading.encodings import decode_bytes
from indexer.reading.errors import ReadError
from indexer.reading.html import decode_html, html_to_text
from indexer.reading.ooxml import sniff
from indexer.reading.pdf import read_pdf

__all__ = ["SUFFIXES", "read_document"]

TEXT_SUFFIXES = {".txt": "txt", ".md": "md", ".markdown": "md"}
HTML_SUFFIXES = {".html", ".htm", ".mht", ".mhtml"}
WORD_SUFFIXES = {".docx", ".doc", ".odt", ".rtf"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff"}
SUFFIXES = frozenset(TEXT_SUFFIXES) | HTML_SUFFIXES | WORD_SUFFIXES | {".pdf"} | IMAGE_SUFFIXES
_KIND_NAMES = {"zip": "a .docx (zip) package", "ole": "a Word 97–2003 document", "rtf": "RTF", "html": "HTML",
               "mht": "a web archive (MHT)", "pdf": "PDF", "png": "a PNG image", "jpeg": "a JPEG image",
               "tiff": "a TIFF image", "word-xml": "Word 2003 XML", "other": "text or unknown"}


def _load(path: Path, max_bytes: int) -> bytes:
    src = str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ReadError(src, f"file too large: {size} bytes > limit {max_bytes}")
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise ReadError(src, f"cannot open: {e.strerror or e}") from e
    if len(data) > max_bytes:  # grew since stat
        raise ReadError(src, f"file too large: more than {max_bytes} bytes")
    if not data.strip():
        raise ReadError(src, "empty file")
    return data


def _via_libreoffice(data: bytes, suffix: str) -> Extracted:
    got = read_docx_bytes(libreoffice.convert(data, suffix, "docx"), what=f"{suffix} (converted)")
    got.reader = f"LibreOffice {suffix} → .docx, then " + got.reader
    return got


def _odt_mimetype(data: bytes) -> str:
    import io
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return zf.read("mimetype")[:100].decode("ascii", "replace").strip() if "mimetype" in zf.namelist() else ""
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        return ""


def _mht_html(data: bytes) -> tuple[str, str]:
    """The HTML part of a web archive (Word's "single file web page", often named .doc)."""
    msg = email.message_from_bytes(data, policy=email.policy.default)
    for part in msg.walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload(decode=True) or b""
            charset = part.get_content_charset()
            if charset:
                try:
                    return payload.decode(charset), charset
                except (LookupError, UnicodeDecodeError):
                    pass
            return decode_html(payload)
    raise ReadError("", "corrupt web archive: no HTML part")


def _html(data: bytes, kind: str) -> Extracted:
    raw, enc = _mht_html(data) if kind == "mht" else decode_html(data)
    return Extracted(text=html_to_text(raw), reader="HTML", encoding=enc)


def _text(data: bytes) -> Extracted:
    text, enc = decode_bytes(data)
    return Extracted(text=text, reader="plain text", encoding=enc)


def _word(path: Path, data: bytes, suffix: str, kind: str, opts: ReadOptions) -> Extracted:
    """.docx/.doc/.odt/.rtf by what the bytes are."""
    if kind == "ole-encrypted":
        raise ReadError("", f"password-protected {suffix}: remove the password in Word and save it again")
    if kind == "zip":
        mime = _odt_mimetype(data)
        if mime.startswith("application/vnd.oasis.opendocument.text"):
            return _via_libreoffice(data, ".odt")
        if mime:
            raise ReadError("", f"unsupported format: an OpenDocument file that is not text ({mime})")
        return read_docx_bytes(data, what=suffix)
    if kind in ("ole", "rtf", "word-xml"):
        return _via_libreoffice(data, {"ole": ".doc", "rtf": ".rtf", "word-xml": ".xml"}[kind])
    if kind in ("html", "mht"):
        return _html(data, kind)
    if kind == "pdf":
        return read_pdf(path, data, opts)
    raise ReadError("", f"corrupt {suffix}: the content is {_KIND_NAMES.get(kind, kind)}, not a Word document")


_EXPECTED = {".docx": "zip", ".doc": "ole", ".odt": "zip", ".rtf": "rtf", ".pdf": "pdf", ".html": "html",
             ".htm": "html", ".mht": "mht", ".mhtml": "mht", ".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png",
             ".tif": "tiff", ".tiff": "tiff"}


def _extract(path: Path, data: bytes, suffix: str, opts: ReadOptions) -> Extracted:
    kind = sniff(data)
    if suffix in WORD_SUFFIXES:
        got = _word(path, data, suffix, kind, opts)
    elif suffix == ".pdf" or (suffix in IMAGE_SUFFIXES and kind == "pdf"):
        if kind != "pdf":
            raise ReadError("", f"corrupt PDF: the content is {_KIND_NAMES.get(kind, kind)}")
        got = read_pdf(path, data, opts)
    elif suffix in IMAGE_SUFFIXES:
        if kind not in ("png", "jpeg", "tiff"):
            raise ReadError("", f"corrupt image: the content is {_KIND_NAMES.get(kind, kind)}")
        from indexer.reading.images import read_image

        got = read_image(path, data, opts)
    elif suffix in HTML_SUFFIXES:
        got = _html(data, "mht" if kind == "mht" else "html")
    else:
        got = _text(data)
    expected = _EXPECTED.get(suffix)
    if expected and kind not in (expected, "other"):
        got.warnings.insert(0, f"the file is named {suffix} but is {_KIND_NAMES.get(kind, kind)}")
    return got


def read_document(path: Path, *, max_bytes: int | None = None, options: ReadOptions | None = None) -> RawDocument:
    """Read one document file into text; ``ReadError`` (naming the file) on any failure."""
    opts = options or ReadOptions()
    path = Path(path)
    src = str(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ReadError(src, f"unsupported format: '{suffix or path.name}' (use {', '.join(sorted(SUFFIXES))})")
    data = _load(path, max_bytes or opts.max_bytes)
    try:
        got = _extract(path, data, suffix, opts)
    except ReadError as e:
        raise e.at(src) from e.__cause__
    text = got.text
    if not text.strip():
        raise ReadError(src, "empty file: no text in it")
    if "\r" in text and "\n" not in text:  # classic Mac line ends
        text = text.replace("\r", "\n")
    fmt = {".markdown": "md", ".htm": "html", ".mht": "html", ".mhtml": "html", ".jpeg": "image", ".jpg": "image",
           ".png": "image", ".tif": "image", ".tiff": "image"}.get(suffix, suffix.lstrip("."))
    return RawDocument(source=src, format=fmt, encoding=got.encoding, text=text,
                       content_hash=hashlib.sha256(data).hexdigest(), ingest=got.ingest())
