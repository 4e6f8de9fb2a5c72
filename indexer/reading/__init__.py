"""Reading: files → decoded text, one module per format and a small dispatcher.

``dispatch.read_document`` is the only entry point the parser uses. Each format module turns its bytes into
the plain text the structure parser expects (paragraphs separated by blank lines, list labels typed in front),
so a .docx with Word's automatic numbering, a .doc converted by LibreOffice and a scanned PDF read by OCR
all give the same task tree as the typed text.
"""

from indexer.reading.dispatch import SUFFIXES, read_document
from indexer.reading.document import RawDocument, ReadOptions
from indexer.reading.encodings import decode_bytes, encode_legacy, repair_mojibake
from indexer.reading.errors import ReadError

__all__ = ["SUFFIXES", "RawDocument", "ReadError", "ReadOptions", "decode_bytes", "encode_legacy", "read_document",
           "repair_mojibake"]
