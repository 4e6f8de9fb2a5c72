"""Which files an upload accepts, and a cheap look at their first bytes before anything is stored.

The accepted extensions are what the indexer reads (``indexer.reading.SUFFIXES`` and the record files) plus
the formats the issue promises (.doc/.odt/.rtf are read by LibreOffice once the readers have them; until then
the job reports them per file). ``sniff`` only refuses what is certainly wrong — a file whose extension lies
about its content, a password-protected Word file, a zip bomb judged from the zip's central directory — and
leaves the deeper checks to the readers.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from indexer.parsing.pipeline import RECORD_SUFFIXES
from indexer.reading import SUFFIXES

PROMISED = frozenset({".docx", ".doc", ".odt", ".rtf", ".pdf", ".txt", ".md", ".html", ".jsonl"})
ACCEPTED = frozenset(SUFFIXES) | frozenset(RECORD_SUFFIXES) | PROMISED

ZIP_MAX_MEMBERS = 5_000
ZIP_MAX_UNCOMPRESSED = 300_000_000  # all members together, as the central directory declares them
ZIP_MAX_RATIO = 150  # per member; Word XML compresses ~5–20×, a bomb thousands of times

OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .doc, .xls, and Word's *encrypted* .docx containers
ZIP = (b"PK\x03\x04", b"PK\x05\x06")
MAGIC = {  # signatures of formats a text file must never be
    b"%PDF-": "PDF", b"PK\x03\x04": "zip (.docx/.odt…)", OLE: "Word/Office 97–2003", b"\x89PNG": "ảnh PNG",
    b"\xff\xd8\xff": "ảnh JPEG", b"GIF8": "ảnh GIF", b"MZ": "chương trình Windows", b"\x7fELF": "chương trình Linux",
    b"{\\rtf": "RTF", b"\x1f\x8b": "gzip", b"Rar!": "RAR", b"7z\xbc\xaf": "7-Zip",
}
IMAGE_MAGIC = {".png": (b"\x89PNG",), ".jpg": (b"\xff\xd8\xff",), ".jpeg": (b"\xff\xd8\xff",),
               ".tif": (b"II*\x00", b"MM\x00*"), ".tiff": (b"II*\x00", b"MM\x00*")}
HEAD_BYTES = 8192


class Refused(ValueError):
    """An upload refused before it is stored; the message is Vietnamese and names the reason."""


def suffix_allowed(suffix: str) -> bool:
    return suffix.lower() in ACCEPTED


def accepted_list() -> str:
    return " ".join(sorted(ACCEPTED))


def _lying(head: bytes, claimed: str) -> Refused:
    return Refused(f"Nội dung tệp không khớp phần mở rộng {claimed}: tệp không phải {claimed}.")


def _binary_kind(head: bytes) -> str:
    return next((name for magic, name in MAGIC.items() if head.startswith(magic)), "")


def sniff(path: Path, suffix: str) -> None:
    """Raise ``Refused`` when the stored bytes at ``path`` cannot be the claimed ``suffix``."""
    suffix = suffix.lower()
    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES)
    if not head.strip():
        raise Refused("Tệp rỗng.")
    if suffix == ".pdf":
        if b"%PDF-" not in head[:1024]:
            raise _lying(head, suffix)
    elif suffix == ".docx":
        if head.startswith(OLE):
            raise Refused("Tệp .docx này được đặt mật khẩu (Word mã hóa); hãy gỡ mật khẩu rồi tải lên lại.")
        _check_zip(path, suffix, required="word/document.xml")
    elif suffix == ".odt":
        _check_zip(path, suffix, required="content.xml")
    elif suffix == ".doc":
        if not head.startswith(OLE):
            raise _lying(head, suffix)
    elif suffix == ".rtf":
        if not head.lstrip(b"\xef\xbb\xbf \r\n\t").startswith(b"{\\rtf"):
            raise _lying(head, suffix)
    elif suffix in IMAGE_MAGIC:
        if not head.startswith(IMAGE_MAGIC[suffix]):
            raise _lying(head, suffix)
    else:  # text: .txt .md .html .jsonl … (encodings, UTF-16 without BOM and binary junk are the reader's)
        kind = _binary_kind(head)
        if kind:
            raise Refused(f"Tệp {suffix} này thực ra là {kind}, không phải văn bản thuần; hãy đổi đúng phần mở rộng.")
        if suffix == ".jsonl" and not head.lstrip(b"\xef\xbb\xbf \r\n\t").startswith(b"{"):
            raise Refused("Tệp .jsonl phải gồm các dòng JSON, mỗi dòng một đối tượng {…}.")


def _check_zip(path: Path, suffix: str, required: str) -> None:
    """Judge a zip from its central directory only (nothing is decompressed)."""
    with open(path, "rb") as f:
        if f.read(4) not in ZIP:
            raise _lying(b"", suffix)
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, io.UnsupportedOperation) as e:
        raise Refused(f"Tệp {suffix} bị hỏng (không đọc được cấu trúc zip: {e}).") from e
    if len(infos) > ZIP_MAX_MEMBERS:
        raise Refused(f"Tệp {suffix} chứa quá nhiều thành phần ({len(infos)}): nghi là bom nén, đã từ chối.")
    total = sum(i.file_size for i in infos)
    if total > ZIP_MAX_UNCOMPRESSED:
        raise Refused(f"Tệp {suffix} giải nén ra tới {total / 1e6:,.0f} MB: nghi là bom nén, đã từ chối.")
    for i in infos:
        if i.file_size > 1_000_000 and i.file_size > ZIP_MAX_RATIO * max(1, i.compress_size):
            raise Refused(f"Tệp {suffix} có thành phần nén bất thường ({i.file_size / 1e6:,.0f} MB từ "
                          f"{i.compress_size / 1e3:,.0f} KB): nghi là bom nén, đã từ chối.")
        if i.flag_bits & 0x1:
            raise Refused(f"Tệp {suffix} được đặt mật khẩu; hãy gỡ mật khẩu rồi tải lên lại.")
    names = {i.filename for i in infos}
    if required not in names:
        raise Refused(f"Tệp {suffix} không có phần nội dung ({required}): không phải tệp {suffix} hợp lệ.")
