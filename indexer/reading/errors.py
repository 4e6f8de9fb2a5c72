"""The one error every reader raises: ``ReadError`` names the file, the reason, and a Vietnamese gloss."""

from __future__ import annotations

_VI_REASONS = {
    "empty file": "tệp rỗng",
    "binary file": "tệp nhị phân, không phải văn bản",
    "unknown encoding": "không nhận ra bảng mã",
    "file too large": "tệp quá lớn",
    "no text layer": "PDF không có lớp chữ (bản quét?)",
    "no text found": "không tìm thấy chữ trong tệp",
    "unsupported format": "định dạng không được hỗ trợ",
    "corrupt": "tệp bị hỏng",
    "encrypted": "tệp được đặt mật khẩu",
    "password-protected": "tệp được đặt mật khẩu",
    "zip bomb": "tệp nén bất thường (bom nén)",
    "cannot open": "không mở được tệp",
    "cannot convert": "không chuyển đổi được tệp",
    "libreoffice missing": "máy chủ chưa cài LibreOffice",
    "tesseract missing": "máy chủ chưa cài Tesseract OCR",
    "timed out": "xử lý quá lâu, đã dừng",
}


class ReadError(Exception):
    """A file that cannot be turned into text; ``str(e)`` names the file, the reason and a Vietnamese gloss."""

    def __init__(self, source: str, reason: str):
        self.source = str(source)
        self.reason = reason
        gloss = next((vi for key, vi in _VI_REASONS.items() if reason.startswith(key)), "không đọc được tệp")
        super().__init__(f"{self.source}: {reason} ({gloss})" if self.source else f"{reason} ({gloss})")

    def at(self, source: str) -> ReadError:
        """The same error, naming ``source`` (readers raise with a blank source; the dispatcher fills it)."""
        err = ReadError(source, self.reason)
        err.__cause__ = self.__cause__
        return err
