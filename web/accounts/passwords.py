"""Password hashing with argon2id (argon2-cffi's defaults: RFC 9106 low-memory profile). Never logged."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
MIN_LENGTH = 8
MAX_LENGTH = 1024
# verified against when the account does not exist, so a wrong name costs the same time as a wrong password
_DUMMY = _hasher.hash("không có tài khoản này")


class WeakPassword(ValueError):
    """A password the policy refuses (the message is Vietnamese, for the form and the terminal)."""


def check_policy(password: str, name: str = "") -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"Mật khẩu phải có ít nhất {MIN_LENGTH} ký tự.")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"Mật khẩu quá dài (tối đa {MAX_LENGTH} ký tự).")
    if name and password.strip().lower() == name.lower():
        raise WeakPassword("Mật khẩu không được trùng tên đăng nhập.")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; a missing account still spends one verification."""
    try:
        return _hasher.verify(stored_hash or _DUMMY, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)
