"""LibreOffice headless as a converter: .doc/.odt/.rtf → .docx, so every Word-like file takes the .docx path.

One conversion at a time per process (soffice is heavy, and two conversions on one profile corrupt it), a
private profile directory per process (parallel runs and tests never share one), a copy of the input under a
fixed ASCII name (a hostile or non-ASCII file name never reaches the command line), and a timeout after
which the whole process group is killed. Debian's ``libreoffice-writer-nogui`` provides ``soffice``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

from indexer.reading.errors import ReadError

__all__ = ["CONVERT_TIMEOUT", "available", "convert"]

CONVERT_TIMEOUT = 120.0  # seconds; a 300-page .doc converts in well under a minute here
_LOCK = threading.Lock()
_PROFILE: Path | None = None
MISSING = ("libreoffice missing: .doc, .odt and .rtf files are converted with LibreOffice; install Debian's "
           "libreoffice-writer-nogui (make office)")


def soffice() -> str | None:
    """The LibreOffice binary, or None. ``$DIRECTIVES_SOFFICE`` may name another one (or "none", for tests)."""
    env = os.environ.get("DIRECTIVES_SOFFICE")
    if env:
        return None if env == "none" else shutil.which(env) or (env if Path(env).is_file() else None)
    return shutil.which("soffice") or shutil.which("libreoffice")


def available() -> bool:
    return soffice() is not None


def _profile() -> Path:
    global _PROFILE
    if _PROFILE is None:
        _PROFILE = Path(tempfile.mkdtemp(prefix="directives-lo-profile-"))
        atexit.register(shutil.rmtree, _PROFILE, True)
    return _PROFILE


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    """Run soffice in its own process group so a timeout kills it and every child it forked."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            env={**os.environ, "HOME": str(_profile()), "SAL_USE_VCLPLUGIN": "svp"})
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def convert(data: bytes, suffix: str, target: str = "docx", *, timeout: float | None = None) -> bytes:
    """Convert a document given as bytes (its format named by ``suffix``, e.g. ".doc") to ``target``.

    Raises ``ReadError`` (blank source) when LibreOffice is missing, times out, or produces nothing.
    """
    binary = soffice()
    if binary is None:
        raise ReadError("", MISSING)
    timeout = CONVERT_TIMEOUT if timeout is None else timeout
    with _LOCK, tempfile.TemporaryDirectory(prefix="directives-lo-") as tmp:
        src = Path(tmp) / f"input{suffix.lower()}"
        src.write_bytes(data)
        out_dir = Path(tmp) / "out"
        cmd = [binary, f"-env:UserInstallation={_profile().as_uri()}", "--headless", "--invisible",
               "--nologo", "--norestore", "--nodefault", "--nolockcheck", "--convert-to", target,
               "--outdir", str(out_dir), str(src)]
        try:
            done = _run(cmd, timeout)
        except subprocess.TimeoutExpired as e:
            raise ReadError("", f"timed out: LibreOffice did not convert the {suffix} file in {timeout:.0f} s") from e
        except OSError as e:
            raise ReadError("", f"{MISSING} ({e})") from e
        produced = sorted(out_dir.glob(f"*.{target.split(':')[0]}")) if out_dir.is_dir() else []
        if not produced or produced[0].stat().st_size == 0:
            tail = (done.stderr or done.stdout).decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            raise ReadError("", f"cannot convert the {suffix} file with LibreOffice (password-protected or "
                                f"damaged?) {tail[0][:200]}".rstrip())
        return produced[0].read_bytes()
