"""Opening an Office Open XML package safely: sniffing, zip-bomb limits, encrypted files, hardened XML.

A .docx is a zip of XML parts. Before anything inflates, the central directory is checked against limits
(total and per-part uncompressed size, compression ratio, number of parts), so a few-KB file that inflates to
gigabytes is refused in milliseconds. A password-protected .docx is not a zip at all but an OLE compound file
holding an ``EncryptedPackage`` stream. XML is parsed without entities or network access.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from lxml import etree

from indexer.reading.errors import ReadError

__all__ = ["Package", "W", "open_package", "sniff"]

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
NS = {
    "w": W,
    "mc": "http://schemas.openxmlformats.org/markup-compatibility/2006",
    "wps": "http://schemas.microsoft.com/office/word/2010/wordprocessingShape",
    "v": "urn:schemas-microsoft-com:vml",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
}
MAX_PART = 200_000_000  # uncompressed bytes of one part
INFLATABLE = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)  # what zipfile reads
MAX_TOTAL = 400_000_000  # of the whole package
MAX_RATIO = 200  # deflate tops out near 1000:1 on zeros; real XML is 5–30:1
MAX_PARTS = 5_000
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True)


def sniff(data: bytes) -> str:
    """What the bytes are, whatever the extension says: zip, ole, ole-encrypted, rtf, pdf, html, mht, png…"""
    head = data[:4096]
    low = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(_OLE):
        return "ole-encrypted" if "EncryptedPackage".encode("utf-16-le") in data else "ole"
    if low.startswith(b"{\\rtf"):
        return "rtf"
    if head.startswith(b"%PDF") or b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"\x89PNG"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if low.startswith(b"mime-version:") or b"\ncontent-type: multipart/related" in low[:2048]:
        return "mht"
    if low.startswith((b"<!doctype html", b"<html")) or (b"<html" in low[:1024] and b"<body" in low):
        return "html"
    if low.startswith(b"<?xml") and b"<w:worddocument" in low:
        return "word-xml"
    return "other"


@dataclass
class Package:
    """The parts of an OOXML package, read lazily with size limits."""

    zf: zipfile.ZipFile

    def has(self, name: str) -> bool:
        try:
            self.zf.getinfo(name)
        except KeyError:
            return False
        return True

    def xml(self, name: str) -> etree._Element | None:
        """A part parsed as XML, or None when the package has no such part."""
        if not self.has(name):
            return None
        info = self.zf.getinfo(name)
        if info.compress_type not in INFLATABLE:  # e.g. Deflate64 (9), which zipfile cannot inflate
            raise ReadError("", f"corrupt .docx: part {name} uses compression method {info.compress_type}, "
                                "which cannot be read")
        try:
            with self.zf.open(info) as f:
                data = f.read(MAX_PART + 1)  # zipfile stops at the declared size, then checks the CRC
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
            raise ReadError("", f"corrupt .docx: part {name}: {e}") from e
        if len(data) > MAX_PART:
            raise ReadError("", f"zip bomb: part {name} inflates past {MAX_PART} bytes")
        try:
            return etree.fromstring(data, _PARSER)
        except etree.XMLSyntaxError as e:
            raise ReadError("", f"corrupt .docx: {name} is not well-formed XML ({e})") from e


def _check_limits(zf: zipfile.ZipFile) -> None:
    infos = zf.infolist()
    if len(infos) > MAX_PARTS:
        raise ReadError("", f"zip bomb: {len(infos)} parts in the package")
    total = 0
    for i in infos:
        total += i.file_size
        ratio = i.file_size / max(i.compress_size, 1)
        if i.file_size > MAX_PART or (i.file_size > 10_000_000 and ratio > MAX_RATIO):
            raise ReadError("", f"zip bomb: part {i.filename} inflates to {i.file_size} bytes "
                                f"({ratio:.0f}:1)")
    if total > MAX_TOTAL:
        raise ReadError("", f"zip bomb: the package inflates to {total} bytes")


def open_package(data: bytes, what: str = ".docx") -> Package:
    """Open an OOXML package from bytes; ``ReadError`` for encrypted, non-zip, damaged or bomb files."""
    kind = sniff(data)
    if kind == "ole-encrypted":
        raise ReadError("", f"password-protected {what}: remove the password in Word and upload it again")
    if kind != "zip":
        raise ReadError("", f"corrupt {what}: not a zip package (looks like {kind})")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise ReadError("", f"corrupt {what}: {e}") from e
    _check_limits(zf)
    return Package(zf)
