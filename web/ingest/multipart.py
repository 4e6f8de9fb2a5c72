"""Streaming multipart/form-data for uploads, with size limits enforced while the body arrives.

Starlette's ``request.form()`` would spool the whole body before a route sees it. Here python-multipart's
low-level parser is fed chunk by chunk: a declared ``Content-Length`` over the request limit is refused with
413 before one byte is read, and a file or a body that grows past its limit is refused the moment it does.
Files go to temporary ``.part`` files in a hidden directory of the corpus (never indexed) and are hashed on
the way; nothing is kept if the request fails, is refused, or is cut off before its closing boundary.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request


@dataclass(frozen=True)
class UploadLimits:
    max_file_bytes: int = 50_000_000  # the readers' own limit (indexer.reading.document.MAX_BYTES)
    max_request_bytes: int = 200_000_000
    max_files: int = 20
    max_fields: int = 50
    max_field_bytes: int = 20_000


class UploadError(Exception):
    """A request refused while it was being received (status 400, 413 or 415); message in Vietnamese."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class ReceivedFile:
    field: str
    client_name: str  # as sent: untrusted, cleaned by web.ingest.names before any use
    temp_path: Path
    size: int
    sha256: str


@dataclass
class ReceivedForm:
    fields: dict[str, str] = field(default_factory=dict)
    files: list[ReceivedFile] = field(default_factory=list)

    def discard(self) -> None:
        for f in self.files:
            with contextlib.suppress(FileNotFoundError):
                f.temp_path.unlink()


def _mb(n: int) -> str:
    return f"{n / 1_000_000:g} MB"


class _Receiver:
    def __init__(self, incoming: Path, limits: UploadLimits, before_file: Callable[[dict[str, str]], None]):
        self.incoming, self.limits, self.before_file = incoming, limits, before_file
        self.form = ReceivedForm()
        self.done = False
        self._headers: dict[str, str] = {}
        self._hname = self._hvalue = b""
        self._name = ""
        self._filename: str | None = None
        self._buf = bytearray()
        self._fh = None
        self._hash = None
        self._size = 0
        self._temp: Path | None = None
        self._fields = 0

    def callbacks(self) -> dict:
        return {"on_part_begin": self.part_begin, "on_header_field": self.header_field,
                "on_header_value": self.header_value, "on_header_end": self.header_end,
                "on_headers_finished": self.headers_finished, "on_part_data": self.part_data,
                "on_part_end": self.part_end, "on_end": self.end}

    def part_begin(self) -> None:
        self._headers, self._name, self._filename = {}, "", None
        self._buf, self._fh, self._size = bytearray(), None, 0

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._hname += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._hvalue += data[start:end]

    def header_end(self) -> None:
        self._headers[self._hname.decode("latin-1").lower()] = self._hvalue.decode("utf-8", "replace")
        self._hname = self._hvalue = b""

    def headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get("content-disposition", "").encode("utf-8"))
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        fn = params.get(b"filename")
        self._filename = None if fn is None else fn.decode("utf-8", "replace")
        if self._filename is None:
            self._fields += 1
            if self._fields > self.limits.max_fields:
                raise UploadError(413, f"Biểu mẫu có quá nhiều trường (tối đa {self.limits.max_fields}).")
            return
        self.before_file(self.form.fields)  # e.g. the CSRF check: refuse before a byte of a file is stored
        if len(self.form.files) >= self.limits.max_files:
            raise UploadError(413, f"Mỗi lần tải lên tối đa {self.limits.max_files} tệp.")
        fd, name = tempfile.mkstemp(prefix="up-", suffix=".part", dir=self.incoming)
        self._fh, self._temp, self._hash = os.fdopen(fd, "wb"), Path(name), hashlib.sha256()

    def part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._fh is None:
            self._buf += chunk
            if len(self._buf) > self.limits.max_field_bytes:
                raise UploadError(413, f"Trường “{self._name[:40]}” quá dài (tối đa {self.limits.max_field_bytes} byte).")
            return
        self._size += len(chunk)
        if self._size > self.limits.max_file_bytes:
            raise UploadError(413, f"Tệp “{(self._filename or '')[:80]}” quá lớn: tối đa "
                                   f"{_mb(self.limits.max_file_bytes)} mỗi tệp.")
        self._hash.update(chunk)
        self._fh.write(chunk)

    def part_end(self) -> None:
        if self._fh is None:
            self.form.fields[self._name] = self._buf.decode("utf-8", "replace")
            return
        self._fh.close()
        self._fh = None
        if self._size == 0 and not self._filename:  # a file input left empty
            self._temp.unlink()
            return
        self.form.files.append(ReceivedFile(self._name, self._filename or "", self._temp, self._size,
                                            self._hash.hexdigest()))

    def end(self) -> None:
        self.done = True

    def abort(self) -> None:
        if self._fh is not None:
            self._fh.close()
            with contextlib.suppress(FileNotFoundError):
                self._temp.unlink()
        self.form.discard()


async def receive_form(request: Request, incoming: Path, limits: UploadLimits,
                       before_file: Callable[[dict[str, str]], None] = lambda fields: None) -> ReceivedForm:
    """Read a multipart body into fields and temporary files; UploadError (nothing kept) on any failure."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise UploadError(415, "Cần gửi biểu mẫu multipart/form-data (enctype=\"multipart/form-data\").")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise UploadError(400, "Content-Length không hợp lệ.")
        if int(declared) > limits.max_request_bytes:
            raise UploadError(413, f"Yêu cầu quá lớn ({_mb(int(declared))}); tối đa {_mb(limits.max_request_bytes)} "
                                   "mỗi lần tải lên.")
    incoming.mkdir(parents=True, exist_ok=True)
    rx = _Receiver(incoming, limits, before_file)
    try:
        parser = MultipartParser(params[b"boundary"], rx.callbacks())
    except MultipartParseError as e:
        raise UploadError(400, f"Biểu mẫu multipart không hợp lệ: {e}") from None
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > limits.max_request_bytes:
                raise UploadError(413, f"Yêu cầu quá lớn; tối đa {_mb(limits.max_request_bytes)} mỗi lần tải lên.")
            if chunk:
                parser.write(chunk)
        if not rx.done:
            raise UploadError(400, "Tải lên bị cắt giữa chừng (thiếu phần kết thúc của biểu mẫu); không có gì được lưu.")
    except ClientDisconnect:
        rx.abort()
        raise UploadError(400, "Kết nối bị ngắt giữa chừng khi tải lên; không có gì được lưu.") from None
    except MultipartParseError as e:
        rx.abort()
        raise UploadError(400, f"Biểu mẫu multipart không hợp lệ: {e}") from None
    except BaseException:
        rx.abort()
        raise
    return rx.form
