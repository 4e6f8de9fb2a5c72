"""The pieces of corpus management on their own: names, sniffing, metadata validation, sidecars, trash,
the hidden-folder rule of the indexer, accounts, sessions, tokens, login throttling, the data directory, the CLI."""

from __future__ import annotations

import datetime as dt
import io
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from indexer.parsing.pipeline import iter_document_files
from indexer.parsing.sidecar import dump_sidecar, load_sidecar, sidecar_path
from web.accounts import sessions, throttle, tokens, users
from web.accounts.passwords import WeakPassword
from web.datadir import DataDB, DataDirError, check_location
from web.ingest import formats, metadata_form
from web.ingest.names import clean_original_name, stored_name, suffix_of
from web.ingest.trash import Trash, TrashError

REPO = Path(__file__).resolve().parents[1]
SEED = (REPO / "corpus" / "cam-lo-2023.txt").read_text(encoding="utf-8")


# --- names ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "clean", "suffix"), [
    ("../../etc/passwd.txt", "passwd.txt", ".txt"),
    ("/etc/cron.d/evil.md", "evil.md", ".md"),
    ("C:\\Users\\Lan\\Desktop\\Kế hoạch 2024.docx", "Kế hoạch 2024.docx", ".docx"),
    ("a\x00b\x1b[31m.txt", "a b [31m.txt", ".txt"),
    ("hop-dong\u202excod.exe", "hop-dongxcod.exe", ".exe"),  # the override made ".exe" look like ".docx"
    ("\u2067ke-hoach\u2069.pdf", "ke-hoach.pdf", ".pdf"),
    ("CON.txt", "CON.txt", ".txt"),  # only ever metadata: harmless
    ("Ke hoa\u0300ch.txt", "Ke hoàch.txt", ".txt"),  # NFC
    ("...", "", ""),
    ("<img src=x onerror=alert(1)>.html", "<img src=x onerror=alert(1)>.html", ".html"),
])
def test_clean_original_name(raw, clean, suffix):
    assert clean_original_name(raw) == clean
    assert suffix_of(clean) == suffix


def test_long_names_are_cut_keeping_the_extension():
    name = clean_original_name("x" * 500 + ".docx")
    assert len(name) <= 255 and name.endswith("….docx")


def test_stored_name_is_generated_from_the_hash():
    h = "ab" * 32
    assert stored_name(h, ".docx", 2024) == "uploads/2024/" + h[:20] + ".docx"
    with pytest.raises(ValueError):
        stored_name("../x", ".txt")
    with pytest.raises(ValueError):
        stored_name(h, ".TXT/../x")


def test_accepted_formats_cover_the_readers_and_the_promised_list():
    from indexer.reading import SUFFIXES

    assert formats.PROMISED <= formats.ACCEPTED and set(SUFFIXES) <= formats.ACCEPTED
    assert not formats.suffix_allowed(".exe") and formats.suffix_allowed(".DOCX")


# --- sniffing ---------------------------------------------------------------------------------------------

def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _docx_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in members.items():
            z.writestr(n, d)
    return buf.getvalue()


def test_sniff_accepts_real_files(tmp_path):
    import docx

    d = docx.Document()
    d.add_paragraph("1. Tổ chức dạy bơi cho trẻ em.")
    d.save(tmp_path / "ok.docx")
    formats.sniff(tmp_path / "ok.docx", ".docx")
    formats.sniff(_write(tmp_path, "a.txt", SEED.encode("utf-16")), ".txt")  # UTF-16 has NULs: the reader decides
    formats.sniff(_write(tmp_path, "a.pdf", b"%PDF-1.7\n..."), ".pdf")
    formats.sniff(_write(tmp_path, "a.jsonl", b'{"id": "x", "text": "y"}\n'), ".jsonl")
    formats.sniff(_write(tmp_path, "a.rtf", b"{\\rtf1\\ansi hello}"), ".rtf")


@pytest.mark.parametrize(("name", "data", "words"), [
    ("fake.pdf", SEED.encode(), "không khớp"),
    ("fake.txt", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
    ("prog.txt", b"MZ\x90\x00\x03\x00\x00\x00", "chương trình"),
    ("fake.docx", SEED.encode(), "không khớp"),
    ("fake.doc", b"PK\x03\x04zip", "không khớp"),
    ("locked.docx", formats.OLE + b"\x00" * 600, "mật khẩu"),
    ("empty.txt", b"  \n ", "rỗng"),
    ("notjson.jsonl", b"id,text\n1,2\n", "JSON"),
    ("noword.docx", _docx_bytes({"hello.txt": b"hi"}), "word/document.xml"),
])
def test_sniff_refuses_clearly(tmp_path, name, data, words):
    with pytest.raises(formats.Refused, match=words):
        formats.sniff(_write(tmp_path, name, data), Path(name).suffix)


def test_sniff_refuses_a_docx_zip_bomb_from_its_central_directory(tmp_path):
    bomb = _docx_bytes({"[Content_Types].xml": b"<x/>", "word/document.xml": b"<w/>" + b"\0" * 60_000_000})
    assert len(bomb) < 200_000
    t0 = time.perf_counter()
    with pytest.raises(formats.Refused, match="bom nén"):
        formats.sniff(_write(tmp_path, "bomb.docx", bomb), ".docx")
    assert time.perf_counter() - t0 < 0.5  # judged without decompressing


# --- metadata form ------------------------------------------------------------------------------------------

TODAY = dt.date(2025, 6, 1)


@pytest.mark.parametrize(("typed", "iso", "error"), [
    ("08/05/2023", "2023-05-08", ""), ("8-5-2023", "2023-05-08", ""), ("2023-05-08", "2023-05-08", ""),
    ("ngày 8 tháng 5 năm 2023", "2023-05-08", ""), ("2023", "2023", ""), ("", "", ""),
    ("31/02/2023", "", "Ngày 31/02/2023 không tồn tại."), ("29/02/2023", "", "không tồn tại"),
    ("29/02/2024", "2024-02-29", ""), ("01/01/1944", "", "Năm 1944 nằm ngoài khoảng cho phép 1945–2026."),
    ("2027", "", "ngoài khoảng"), ("hôm qua", "", "Không đọc được ngày"),
])
def test_dates(typed, iso, error):
    got, err = metadata_form.parse_date(typed, TODAY)
    assert got == iso and error in err and bool(err) == bool(error)


def test_unknown_place_offers_the_gazetteer_nearest_names():
    r = metadata_form.validate({"place": "Cam Loo"}, ("place",))
    assert "Không tìm thấy địa danh “Cam Loo”" in r.errors["place"] and "huyện Cam Lộ (Quảng Trị)" in r.errors["place"]
    assert metadata_form.validate({"place": "huyện Cam Lộ"}, ("place",)).ok
    assert metadata_form.validate({"place": "cam lo"}, ("place",)).ok  # without diacritics


def test_text_is_normalised_and_html_kept_as_text():
    r = metadata_form.validate({"number": "  364/UBND\u200b-LĐTBXH \n", "subject": "<b>V/v</b> hoà  giải\x07"},
                               ("number", "subject"))
    assert r.ok and r.parsed["number"] == "364/UBND-LĐTBXH"
    assert r.parsed["subject"] == "<b>V/v</b> hòa giải"  # one tone placement, no control character
    too_long = metadata_form.validate({"number": "9" * 101}, ("number",))
    assert "quá dài" in too_long.errors["number"]
    assert "Cấp phải" in metadata_form.validate({"level": "city"}, ("level",)).errors["level"]


def test_merge_overrides_keeps_other_keys_and_drops_values_equal_to_the_text():
    text = {f: "" for f in metadata_form.EDIT_FIELDS} | {"number": "364/UBND-LĐTBXH", "date": "2023-05-08"}
    sidecar = {"original_name": "Kế hoạch.docx", "number": "365/UBND"}
    r = metadata_form.validate({"number": "364/UBND-LĐTBXH", "date": "09/05/2023"}, ("number", "date"))
    new = metadata_form.merge_overrides(sidecar, text, r)
    assert new == {"original_name": "Kế hoạch.docx", "date": "2023-05-09"}


def test_sidecar_round_trip_with_html_and_vietnamese(tmp_path):
    doc = tmp_path / "x.txt"
    doc.write_text(SEED, encoding="utf-8")
    values = {"original_name": "Kế hoạch <script>alert(1)</script>.docx", "date": "2023-05-09",
              "subject": "Về việc: \"trích\" 'yếu' # không phải chú thích", "number": "007/KH-UBND"}
    sidecar_path(doc).write_text(dump_sidecar(values), encoding="utf-8")
    assert load_sidecar(doc) == values
    from indexer.parsing.pipeline import parse_file

    m = parse_file(doc).metadata
    assert m.original_name == values["original_name"] and m.date == "2023-05-09" and m.year == 2023
    assert m.parsed["date"] == "2023-05-08" and m.number == "007/KH-UBND"


# --- the indexer never sees hidden folders -------------------------------------------------------------------

def test_iter_document_files_skips_every_hidden_path_component(tmp_path):
    for rel in ("a.txt", "sub/b.md", ".trash/2024/x/c.txt", ".incoming/up.txt", "sub/.hidden/d.txt", ".e.txt",
                "uploads/2025/f.docx"):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x", encoding="utf-8")
    got = sorted(str(p.relative_to(tmp_path)) for p in iter_document_files(tmp_path))
    assert got == ["a.txt", "sub/b.md", "uploads/2025/f.docx"]


def test_a_corpus_inside_a_hidden_folder_still_works(tmp_path):
    root = tmp_path / ".cache" / "corpus"
    root.mkdir(parents=True)
    (root / "a.txt").write_text("x", encoding="utf-8")
    assert [p.name for p in iter_document_files(root)] == ["a.txt"]  # only components below the corpus count


# --- trash --------------------------------------------------------------------------------------------------

def test_trash_put_and_restore(tmp_path):
    (tmp_path / "sub").mkdir()
    doc = tmp_path / "sub" / "kh.txt"
    doc.write_text(SEED, encoding="utf-8")
    sidecar_path(doc).write_text("number: 1/KH\n", encoding="utf-8")
    trash = Trash(tmp_path)
    e = trash.put(doc, actor="lan", kind="removed", doc_ids=["sub-kh"], title="KH <b>1</b>")
    assert not doc.exists() and not sidecar_path(doc).exists()
    assert list(iter_document_files(tmp_path)) == []
    [listed] = trash.entries()
    assert (listed.id, listed.files, listed.title) == (e.id, ["sub/kh.txt", "sub/kh.meta.yaml"], "KH <b>1</b>")
    doc.with_suffix(".docx").write_bytes(b"PK")  # a newer version now has the name
    with pytest.raises(TrashError, match="đang có bản khác"):
        trash.restore(e.id)
    doc.with_suffix(".docx").unlink()
    trash.restore(e.id)
    assert doc.read_text(encoding="utf-8") == SEED and sidecar_path(doc).read_text() == "number: 1/KH\n"
    assert trash.entries() == []
    for bad in ("../../etc", "20240101-000000-zzzzzzzz", ""):
        with pytest.raises(TrashError):
            trash.restore(bad)


# --- accounts, sessions, tokens -------------------------------------------------------------------------------

@pytest.fixture
def db(tmp_path):
    return DataDB(tmp_path / "data")


def test_accounts_roles_and_last_admin(db):
    a = users.add(db, "Admin", "mat-khau-dai-1", "admin")
    assert a.name == "admin" and a.can("editor") and a.can("viewer")
    e = users.add(db, "lan.nguyen", "mat-khau-dai-2", "editor")
    assert e.can("editor") and not e.can("admin")
    r = db.con.execute("SELECT password_hash FROM users WHERE name = 'admin'").fetchone()[0]
    assert r.startswith("$argon2id$") and "mat-khau" not in r
    with pytest.raises(users.AccountError, match="đã có"):
        users.add(db, "ADMIN", "mat-khau-dai-3", "viewer")
    with pytest.raises(users.AccountError, match="Tên đăng nhập"):
        users.add(db, "../x", "mat-khau-dai-3", "viewer")
    with pytest.raises(WeakPassword):
        users.add(db, "binh", "ngan", "viewer")
    with pytest.raises(users.AccountError, match="cuối cùng"):
        users.set_role(db, "admin", "editor")
    with pytest.raises(users.AccountError, match="cuối cùng"):
        users.remove(db, "admin")
    assert users.authenticate(db, "admin", "mat-khau-dai-1") == a
    assert users.authenticate(db, "admin", "sai") is None and users.authenticate(db, "khong-co", "x") is None
    users.set_role(db, "lan.nguyen", "admin")
    users.remove(db, "admin")
    assert [u.name for u in users.all_users(db)] == ["lan.nguyen"]


def test_sessions_are_stored_hashed_rotate_and_expire(db):
    u = users.add(db, "lan", "mat-khau-dai-1", "editor")
    raw, s = sessions.create(db, u, "127.0.0.1")
    assert sessions.lookup(db, raw).user == u
    stored = [r[0] for r in db.con.execute("SELECT id_hash FROM sessions")]
    assert raw not in stored and len(stored[0]) == 64
    raw2, _ = sessions.create(db, u, "127.0.0.1", replaces=raw)
    assert raw2 != raw and sessions.lookup(db, raw) is None and sessions.lookup(db, raw2) is not None
    db.con.execute("UPDATE sessions SET last_seen = ?", (time.time() - sessions.IDLE_SECONDS - 1,))
    assert sessions.lookup(db, raw2) is None  # idle timeout
    assert db.con.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0
    assert not sessions.same_token(s.csrf, "") and not sessions.same_token(s.csrf, None)


def test_api_tokens_are_hashed_and_revocable(db):
    u = users.add(db, "lan", "mat-khau-dai-1", "editor")
    token, info = tokens.create(db, u, "  đồng bộ   cổng  ")
    assert token.startswith("dvt_") and info.name == "đồng bộ cổng"
    assert tokens.authenticate(db, token) == u and tokens.authenticate(db, token + "x") is None
    dump = b"".join(str(tuple(r)).encode() for r in db.con.execute("SELECT * FROM api_tokens"))
    assert token.encode() not in dump
    tokens.revoke(db, u, info.id)
    assert tokens.authenticate(db, token) is None


def test_throttle_backs_off_per_account_and_per_address(db):
    now = 1_000_000.0
    for i in range(throttle.FREE["account"]):
        assert throttle.check(db, "lan", "10.0.0.1", now + i).allowed
        throttle.failed(db, "lan", "10.0.0.1", now + i)
    t = now + throttle.FREE["account"]
    v = throttle.check(db, "lan", "10.0.0.1", t)
    assert not v.allowed and v.kind == "account" and v.retry_after >= 1
    assert throttle.check(db, "binh", "10.0.0.1", t).allowed  # another account from the same office
    assert throttle.check(db, "lan", "10.0.0.1", t + 3).allowed  # waited long enough for one more try
    for i in range(throttle.FREE["address"]):
        throttle.failed(db, f"u{i}", "10.0.0.9", t + i * 0.01)
    v = throttle.check(db, "someone", "10.0.0.9", t + 1)
    assert not v.allowed and v.kind == "address"
    assert throttle.check(db, "someone", "10.0.0.8", t + 1).allowed
    assert throttle.check(db, "someone", "10.0.0.9", t + throttle.WINDOW + 30).allowed  # failures expire


# --- data directory -----------------------------------------------------------------------------------------

def test_data_dir_is_refused_inside_an_index_or_the_corpus(tmp_path):
    with pytest.raises(DataDirError, match="--index-dir"):
        check_location(tmp_path / "index" / ".data", index_dir=tmp_path / "index")
    with pytest.raises(DataDirError, match="--corpus"):
        check_location(tmp_path / "corpus" / "data", corpus=tmp_path / "corpus")
    check_location(tmp_path / ".data", index_dir=tmp_path / "index", corpus=tmp_path / "corpus")


def test_data_db_is_private_and_refuses_a_newer_schema(tmp_path):
    d = DataDB(tmp_path / "data")
    assert (d.path.stat().st_mode & 0o777) == 0o600 and (d.dir.stat().st_mode & 0o777) == 0o700
    con = sqlite3.connect(d.path)
    con.execute("PRAGMA user_version = 99")
    con.close()
    with pytest.raises(DataDirError, match="newer version"):
        DataDB(tmp_path / "data")


# --- directives user … -----------------------------------------------------------------------------------------

def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "indexer.cli", "user", *args], input=stdin, capture_output=True,
                          text=True, cwd=REPO, timeout=120)


def test_user_command_line(tmp_path):
    data = str(tmp_path / "data")
    r = _cli("add", "quantri", "--role", "admin", "--password-stdin", "--data-dir", data, stdin="mat-khau-quan-tri\n")
    assert r.returncode == 0, r.stderr
    assert "quantri" in r.stdout and "mat-khau" not in r.stdout + r.stderr
    r = _cli("add", "lan", "--role", "editor", "--password-stdin", "--data-dir", data, stdin="ngan\n")
    assert r.returncode == 1 and "ít nhất 8 ký tự" in r.stderr
    assert _cli("add", "lan", "--role", "editor", "--password-stdin", "--data-dir", data, stdin="bien-tap-123\n").returncode == 0
    r = _cli("list", "--data-dir", data)
    assert r.returncode == 0 and [ln.split()[:2] for ln in r.stdout.splitlines()[1:]] == [["lan", "editor"],
                                                                                            ["quantri", "admin"]]
    r = _cli("set-role", "quantri", "viewer", "--data-dir", data)
    assert r.returncode == 1 and "cuối cùng" in r.stderr
    assert _cli("set-role", "lan", "admin", "--data-dir", data).returncode == 0
    assert _cli("remove", "quantri", "--data-dir", data).returncode == 0
    r = _cli("remove", "khong-co", "--data-dir", data)
    assert r.returncode == 1 and "Không có tài khoản" in r.stderr
    d = DataDB(data)
    assert [u.name for u in users.all_users(d)] == ["lan"] and users.authenticate(d, "lan", "bien-tap-123")
    acts = [(r["action"], r["target"], r["address"]) for r in d.con.execute("SELECT * FROM audit ORDER BY id")]
    assert acts == [("user_add", "quantri", "local"), ("user_add", "lan", "local"), ("role_change", "lan", "local"),
                    ("user_remove", "quantri", "local")]
    assert all(r["actor"].startswith("cli:") for r in d.con.execute("SELECT actor FROM audit"))


def test_user_add_asks_the_password_twice(tmp_path, monkeypatch, capsys):
    from indexer.cli import main

    answers = iter(["mat-khau-mot-1", "mat-khau-hai-2"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["user", "add", "lan", "--data-dir", str(tmp_path / "d")]) == 1
    assert "không giống nhau" in capsys.readouterr().err
    answers = iter(["mat-khau-mot-1", "mat-khau-mot-1"])
    assert main(["user", "add", "lan", "--role", "editor", "--data-dir", str(tmp_path / "d")]) == 0
    assert users.get(DataDB(tmp_path / "d"), "lan").role == "editor"


def test_a_build_child_whose_server_is_already_gone_exits_at_once(tmp_path):
    """The window before PR_SET_PDEATHSIG is set: the parent pid the worker recorded is not our parent any more."""
    import os

    env = dict(os.environ, DIRECTIVES_JOB_PARENT="1")  # pid 1 never started this test's child
    r = subprocess.run([sys.executable, "-m", "web.ingest.build_job", "--data-dir", str(tmp_path / "d"), "--corpus",
                        str(tmp_path), "--index-dir", str(tmp_path / "i"), "--batch", "1"], env=env, cwd=REPO,
                       capture_output=True, timeout=60)
    assert r.returncode == 3 and not (tmp_path / "d").exists() and not (tmp_path / "i").exists()
    env["DIRECTIVES_JOB_PARENT"] = str(os.getpid())  # the real parent: it runs (an empty batch does nothing)
    r = subprocess.run([sys.executable, "-m", "web.ingest.build_job", "--data-dir", str(tmp_path / "d"), "--corpus",
                        str(tmp_path), "--index-dir", str(tmp_path / "i"), "--batch", "1"], env=env, cwd=REPO,
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "d" / "directives.sqlite").is_file()
