"""Every rule of a writable site, refusals included, against a real uvicorn on 127.0.0.1.

The job worker is off here (jobs stay queued): these tests are about who may change what and what reaches
the disk, not about indexing (tests/test_manage_jobs.py builds for real). "Nothing written" is checked by
comparing every file of the corpus (hidden folders included), the job table and the audit log.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import socket
import threading
import time
import zipfile
from html import unescape
from pathlib import Path

import httpx
import pytest

from indexer.parsing.sidecar import load_sidecar
from tests.manage_site import PASSWORDS, csrf_of, make_site
from web.accounts import users
from web.ingest.multipart import UploadLimits

REPO = Path(__file__).resolve().parents[1]
SEED = (REPO / "corpus" / "cam-lo-2023.txt").read_text(encoding="utf-8")
LIMITS = UploadLimits(max_file_bytes=300_000, max_request_bytes=700_000, max_files=6)
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def site(seed_index, tmp_path_factory):
    s = make_site(tmp_path_factory.mktemp("security"), seed_index, limits=LIMITS)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def editor(site):
    return site.login("editor")


@pytest.fixture(scope="module")
def viewer(site):
    return site.login("viewer")


@pytest.fixture(scope="module")
def admin(site):
    return site.login("admin")


def state(site) -> tuple:
    """Every file under the corpus with its hash, the job table and the number of audit entries."""
    files = sorted((str(p.relative_to(site.corpus)), hashlib.sha256(p.read_bytes()).hexdigest())
                   for p in site.corpus.rglob("*") if p.is_file() and p.name != ".lock")
    jobs = site.db.con.execute("SELECT count(*) FROM jobs").fetchone()[0]
    audit = site.db.con.execute("SELECT count(*) FROM audit WHERE action NOT IN ('login', 'login_failed')").fetchone()[0]
    return files, jobs, audit


def variant(n: int) -> bytes:
    """A readable directive whose bytes differ per ``n`` (uploads are deduplicated by content)."""
    return SEED.replace("Cam Lộ", f"Thử Nghiệm {n}").replace("364", str(1000 + n)).encode("utf-8")


def multipart(fields: list[tuple[str, str]], files: list[tuple[bytes, bytes]], boundary: str = "b0undary7MA4YWxk"
              ) -> tuple[bytes, str]:
    """A multipart body built by hand, so file names can hold any byte (NUL, control, RTL override)."""
    out = io.BytesIO()
    for name, value in fields:
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for filename, data in files:
        out.write(f"--{boundary}\r\n".encode() + b'Content-Disposition: form-data; name="files"; filename="'
                  + filename + b'"\r\nContent-Type: application/octet-stream\r\n\r\n' + data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def upload(client, files: list[tuple[bytes, bytes]], csrf: str | None = None, fields=(), path="/documents/new"):
    body, ctype = multipart([*([("csrf_token", csrf)] if csrf is not None else []), *fields], files)
    return client.post(path, content=body, headers={"content-type": ctype})


# --- who may write ----------------------------------------------------------------------------------------

WRITES = [
    ("POST", "/documents/cam-lo-2023/edit", {"data": {"date": "09/05/2023", "version": "none"}}),
    ("POST", "/documents/cam-lo-2023/remove", {"data": {}}),
    ("POST", "/trash/20240101-000000-abcdef12/restore", {"data": {}}),
    ("POST", "/users", {"data": {"name": "moi", "role": "admin", "password": "mat-khau-1234",
                                 "password2": "mat-khau-1234"}}),
    ("POST", "/users/editor/role", {"data": {"role": "admin"}}),
    ("POST", "/users/editor/remove", {"data": {}}),
    ("PATCH", "/api/documents/cam-lo-2023", {"json": {"version": "none", "date": "09/05/2023"}}),
    ("DELETE", "/api/documents/cam-lo-2023", {}),
    ("POST", "/api/trash/20240101-000000-abcdef12/restore", {}),
]
ADMIN_ONLY = {"/trash", "/users", "/api/trash"}


def _send(client, method, path, kw, csrf=""):
    kw = json.loads(json.dumps(kw))
    if "data" in kw and csrf:
        kw["data"]["csrf_token"] = csrf
    return client.request(method, path, **kw, headers={"x-csrf-token": csrf} if csrf else {})


def test_writes_without_a_session_are_401_and_change_nothing(site):
    anon = site.client()
    before = state(site)
    for method, path, kw in WRITES:
        r = _send(anon, method, path, kw)
        assert r.status_code == 401, (method, path, r.status_code)
        assert "đăng nhập" in r.text.lower() or "login" in r.text.lower()
    body, ctype = multipart([], [(b"a.txt", variant(1))])
    for path in ("/documents/new", "/api/documents", "/documents/cam-lo-2023/replace"):
        r = anon.post(path, content=body, headers={"content-type": ctype})
        assert r.status_code == 401, path
    assert anon.get("/documents/new").status_code == 303  # a page asks to log in
    assert anon.get("/api/jobs/1").status_code == 401
    assert state(site) == before


def test_a_viewer_and_an_editor_get_403_where_their_role_is_not_enough(site, viewer, editor):
    before = state(site)
    for method, path, kw in WRITES:
        r = _send(viewer, method, path, kw, viewer.csrf)
        assert r.status_code == 403, (method, path, r.status_code)
        assert "không có quyền" in r.text.lower()
    r = upload(viewer, [(b"a.txt", variant(2))], viewer.csrf)
    assert r.status_code == 403
    for method, path, kw in WRITES:
        if any(path.startswith(p) for p in ADMIN_ONLY):
            assert _send(editor, method, path, kw, editor.csrf).status_code == 403, path
    for path in ("/trash", "/users", "/audit", "/api/trash", "/api/users", "/api/audit"):
        assert editor.get(path).status_code == 403, path
        assert viewer.get(path).status_code == 403, path
    assert viewer.get("/documents/new").status_code == 403
    assert state(site) == before


def test_csrf_token_missing_or_wrong_is_403(site, editor):
    before = state(site)
    for token in ("", "wrong-token", editor.csrf[:-2] + "xx"):
        r = editor.post("/documents/cam-lo-2023/edit", data={"date": "09/05/2023", "version": "none",
                                                             "csrf_token": token})
        assert r.status_code == 403 and "CSRF" in r.text
        r = upload(editor, [(b"a.txt", variant(3))], token)
        assert r.status_code == 403 and "CSRF" in r.text
        r = editor.patch("/api/documents/cam-lo-2023", json={"version": "none", "date": "09/05/2023"},
                         headers={"x-csrf-token": token} if token else {})
        assert r.status_code == 403
        assert editor.post("/logout", data={"csrf_token": token}).status_code == 403
    # the CSRF field must come before the files: a file part first is refused before it is stored
    body, ctype = multipart([], [(b"a.txt", variant(3))])
    body = body.replace(b"--b0undary7MA4YWxk--", b'--b0undary7MA4YWxk\r\nContent-Disposition: form-data; '
                        b'name="csrf_token"\r\n\r\n' + editor.csrf.encode() + b"\r\n--b0undary7MA4YWxk--")
    assert editor.post("/documents/new", content=body, headers={"content-type": ctype}).status_code == 403
    assert state(site) == before
    assert not list((site.corpus / ".incoming").glob("*.part"))
    # the login form has its own (double-submit) token
    anon = site.client(headers={"x-forwarded-for": "10.1.1.1"})
    anon.get("/login")
    r = anon.post("/login", data={"name": "editor", "password": PASSWORDS["editor"], "csrf_token": "forged"})
    assert r.status_code == 403 and "directives_session" not in r.headers.get("set-cookie", "")


def test_cookies_rotation_idle_timeout_and_logout(site):
    c = site.client()
    c.cookies.set("directives_session", "planted-by-an-attacker", domain="127.0.0.1")
    r = c.get("/login")
    assert "HttpOnly" in r.headers["set-cookie"] and "SameSite=lax" in r.headers["set-cookie"]
    r = c.post("/login", data={"name": "editor", "password": PASSWORDS["editor"], "csrf_token": csrf_of(r.text)})
    cookie = r.headers["set-cookie"]
    assert r.status_code == 303 and "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    sid = c.cookies["directives_session"]
    assert sid != "planted-by-an-attacker" and len(sid) >= 40
    stored = [row[0] for row in site.db.con.execute("SELECT id_hash FROM sessions")]
    assert sid not in stored and hashlib.sha256(sid.encode()).hexdigest() in stored
    # a second login gets a NEW id and the old one stops working
    c2 = site.login("editor")
    assert c2.cookies["directives_session"] != sid and c.get("/account").status_code == 200
    c.cookies.set("directives_login_csrf", "same-value-in-cookie-and-form", domain="127.0.0.1")
    r = c.post("/login", data={"name": "editor", "password": PASSWORDS["editor"],
                               "csrf_token": "same-value-in-cookie-and-form"})
    assert r.status_code == 303 and c.cookies["directives_session"] != sid
    old = site.client()
    old.cookies.set("directives_session", sid)
    assert old.get("/account").status_code == 303  # to the login page
    # served over https (a proxy in front says so): Secure
    h = site.client(headers={"x-forwarded-proto": "https"})
    r = h.get("/login")
    assert "Secure" in r.headers["set-cookie"]
    token = csrf_of(r.text)
    r = h.post("/login", data={"name": "viewer", "password": PASSWORDS["viewer"], "csrf_token": token},
               headers={"cookie": f"directives_login_csrf={token}"})  # httpx keeps Secure cookies off http
    assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]
    # idle timeout
    site.db.con.execute("UPDATE sessions SET last_seen = last_seen - 3 * 3600 WHERE id_hash = ?",
                        (hashlib.sha256(c2.cookies["directives_session"].encode()).hexdigest(),))
    assert c2.get("/account").status_code == 303
    # logout ends the session for good
    c3 = site.login("viewer")
    raw = c3.cookies["directives_session"]
    assert c3.post("/logout", data={"csrf_token": c3.csrf}).status_code == 303
    again = site.client()
    again.cookies.set("directives_session", raw)
    assert again.get("/account").status_code == 303


def test_passwords_are_argon2_and_never_stored_or_logged(site):
    rows = site.db.con.execute("SELECT name, password_hash FROM users").fetchall()
    assert all(h.startswith("$argon2id$") for _, h in rows)
    blob = b"".join(p.read_bytes() for p in site.data.rglob("*") if p.is_file())
    for pw in PASSWORDS.values():
        assert pw.encode() not in blob


def test_api_tokens_created_on_the_account_page_used_and_revoked(site):
    c = site.login("editor")
    r = c.post("/account/tokens", data={"csrf_token": c.csrf, "name": "đồng bộ <b>cổng</b>"})
    assert r.status_code == 200 and "&lt;b&gt;cổng&lt;/b&gt;" in r.text
    token = re.search(r'<code id="new-token">([^<]+)</code>', r.text)[1]
    assert token.startswith("dvt_") and token not in c.get("/account").text  # shown once
    blob = b"".join(p.read_bytes() for p in site.data.rglob("*") if p.is_file())
    assert token.encode() not in blob
    api = site.client(headers={"authorization": f"Bearer {token}"})
    me = api.get("/api/account").json()
    assert me["name"] == "editor" and me["via"] == "token" and me["tokens"][0]["prefix"] == token[:10]
    form = api.get("/api/documents/lang-son-2023/edit").json()
    r = api.patch("/api/documents/lang-son-2023", json={"version": form["version"], "signer": "Nguyễn Văn A"})
    assert r.status_code == 202, r.text  # no CSRF header needed with a token
    assert r.json()["job"]["state"] == "queued" and r.json()["job"]["kind"] == "edit"
    tid = me["tokens"][0]["id"]
    assert c.post(f"/account/tokens/{tid}/revoke", data={"csrf_token": c.csrf}).status_code == 200
    r = api.get("/api/account")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert site.client(headers={"authorization": "Bearer dvt_forged"}).get("/api/search?q=x").status_code == 401
    acts = [a for (a,) in site.db.con.execute("SELECT action FROM audit WHERE action LIKE 'token_%' ORDER BY id")]
    assert acts == ["token_create", "token_revoke"]


def test_a_thousand_failed_logins_in_a_row_are_rate_limited(site):
    users.add(site.db, "muctieu", "mat-khau-dung-1", "editor")
    c = site.client(headers={"x-forwarded-for": "10.66.0.1"})
    token = csrf_of(c.get("/login").text)
    codes = []
    t0 = time.perf_counter()
    for i in range(1000):
        r = c.post("/login", data={"name": "muctieu", "password": f"sai-{i}", "csrf_token": token})
        codes.append(r.status_code)
    seconds = time.perf_counter() - t0
    assert codes[:5] == [401] * 5 and set(codes[5:]) <= {401, 429} and codes.count(429) >= 990, codes[:20]
    assert r.headers["retry-after"].isdigit() and "thử lại sau" in r.text.lower()
    assert seconds < 120  # a refused attempt costs no argon2 verification
    r = c.post("/login", data={"name": "muctieu", "password": "mat-khau-dung-1", "csrf_token": token})
    assert r.status_code == 429  # the right password is refused too while the account waits
    failed = site.db.con.execute("SELECT count(*) FROM audit WHERE action = 'login_failed' AND target = 'muctieu'").fetchone()[0]
    throttled = site.db.con.execute("SELECT count(*) FROM audit WHERE action = 'login_throttled' AND target = 'muctieu'").fetchone()[0]
    assert failed == codes.count(401) and 1 <= throttled <= 3  # recorded, without flooding the log
    # another account from another address is not affected; the same address is, for every account
    other = site.client(headers={"x-forwarded-for": "10.66.0.2"})
    r = other.get("/login")
    assert other.post("/login", data={"name": "viewer", "password": PASSWORDS["viewer"],
                                      "csrf_token": csrf_of(r.text)}).status_code == 303
    for i in range(25):
        c.post("/login", data={"name": f"khac{i}", "password": "x", "csrf_token": token})
    r = c.post("/login", data={"name": "viewer", "password": PASSWORDS["viewer"], "csrf_token": token})
    assert r.status_code == 429


# --- uploads --------------------------------------------------------------------------------------------

HOSTILE_NAMES = [
    b"../../../../etc/cron.d/evil.txt", b"/etc/passwd.txt", b"C:\\Windows\\System32\\drivers\\x.txt",
    b"nul\x00byte.txt", b"ctrl\x1b[2J\x07\x08.txt", "phải\u202etxt.md".encode(), b"CON.txt", b"NUL",
    b"A" * 500 + b".txt", b"<img src=x onerror=alert(1)>.md",
]


def test_hostile_file_names_never_reach_the_file_system(site, editor):
    before_files = {f for f, _ in state(site)[0]}
    r = upload(editor, [(n, variant(100 + i)) for i, n in enumerate(HOSTILE_NAMES[:6])], editor.csrf)
    r2 = upload(editor, [(n, variant(200 + i)) for i, n in enumerate(HOSTILE_NAMES[6:])], editor.csrf)
    assert r.status_code == 303 and r2.status_code == 303
    jobs = [editor.get(x.headers["location"].replace("/jobs/", "/api/jobs/")).json() for x in (r, r2)]
    items = jobs[0]["items"] + jobs[1]["items"]
    by_status = {i["name"]: i for i in items}
    assert by_status["phảitxt.md"]["status"] == "pending"  # RTL override removed: the name says what it is
    assert by_status["NUL"]["status"] == "error" and "không có phần mở rộng" in by_status["NUL"]["message"]
    stored = [i for i in items if i["status"] == "pending"]
    assert len(stored) == 9
    for i in stored:
        assert re.fullmatch(r"uploads/\d{4}/[0-9a-f]{20}\.(txt|md)", i["path"]), i["path"]
        side = load_sidecar(site.corpus / i["path"])
        name = side["original_name"]
        assert name == i["name"] and len(name) <= 255 and "/" not in name and "\\" not in name
        assert not re.search(r"[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]", name)
    names = {i["name"] for i in stored}
    assert {"evil.txt", "passwd.txt", "x.txt", "nul byte.txt", "CON.txt", "<img src=x onerror=alert(1)>.md"} <= names
    new_files = {f for f, _ in state(site)[0]} - before_files
    assert all(f.startswith("uploads/") for f in new_files), new_files
    assert not (Path("/etc/cron.d/evil.txt").exists() or (site.corpus.parent / "etc").exists())
    page = editor.get(r2.headers["location"]).text  # the job page shows the names escaped
    assert "&lt;img src=x onerror=alert(1)&gt;.md" in page and "<img src=x" not in page


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in members.items():
            z.writestr(n, d)
    return buf.getvalue()


def test_lying_extensions_zip_bombs_and_locked_files_are_refused(site, editor):
    before = state(site)
    bomb = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>" + b" " * 80_000_000})
    assert len(bomb) < LIMITS.max_file_bytes
    files = [(b"bien-ban.pdf", variant(300)), (b"thuc-ra-pdf.txt", b"%PDF-1.5\n%\xb5\xed\xae\xfb\n"),
             (b"bom.docx", bomb), (b"mat-khau.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 2000),
             (b"chuong-trinh.html", b"MZ\x90\x00" + b"\0" * 100), (b"virus.exe", b"MZ\x90\x00")]
    r = upload(editor, files, editor.csrf)
    assert r.status_code == 422
    text = unescape(re.sub(r"<[^>]+>", "", r.text))
    for words in ("không khớp phần mở rộng .pdf", "thực ra là PDF", "bom nén", "đặt mật khẩu",
                  "chương trình Windows", "Định dạng “.exe” không được hỗ trợ"):
        assert words in text, words
    assert state(site)[0] == before[0] and state(site)[1] == before[1]


def test_the_same_bytes_twice_are_stored_once(site, editor):
    seed_bytes = (REPO / "corpus" / "tra-cu-2022.txt").read_bytes()
    r = upload(editor, [(b"tra-cu-ban-sao.txt", seed_bytes)], editor.csrf)
    assert r.status_code == 409
    assert "Đã có trong kho: tra-cu-2022.txt" in unescape(r.text) and 'href="/documents/tra-cu-2022"' in r.text
    r = upload(editor, [(b"mot.txt", variant(400)), (b"hai.txt", variant(400))], editor.csrf)
    job = editor.get(r.headers["location"].replace("/jobs/", "/api/jobs/")).json()
    assert [i["status"] for i in job["items"]] == ["pending", "duplicate"]
    assert job["items"][0]["path"] in job["items"][1]["message"]


def _raw(site, head: bytes, body: bytes = b"", close_after_send: bool = False, read: bool = True) -> bytes:
    host, port = site.base_url.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)), timeout=30)
    try:
        s.sendall(head + body)
        if close_after_send:
            s.shutdown(socket.SHUT_WR)
        if not read:
            return b""
        out = b""
        while b"\r\n\r\n" not in out:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def _head(site, client, path: str, length: int | None, ctype: str, chunked: bool = False) -> bytes:
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    lines = [f"POST {path} HTTP/1.1", f"Host: {site.base_url.removeprefix('http://')}", f"Cookie: {cookie}",
             f"Content-Type: {ctype}"]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_413_is_sent_before_the_body_is_read(site, editor):
    before = state(site)
    _, ctype = multipart([], [])
    t0 = time.perf_counter()
    reply = _raw(site, _head(site, editor, "/documents/new", 10_000_000_000, ctype))  # 10 GB announced, none sent
    assert reply.startswith(b"HTTP/1.1 413") and time.perf_counter() - t0 < 10
    # chunked, no length announced: refused as soon as the body passes the limit, while it is still streaming
    host, port = site.base_url.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)), timeout=30)
    s.sendall(_head(site, editor, "/documents/new", None, ctype, chunked=True))
    part = b"--b0undary7MA4YWxk\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n" + editor.csrf.encode()
    part += b'\r\n--b0undary7MA4YWxk\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n\r\n'
    sent, reply = 0, b""
    s.sendall(b"%x\r\n%s\r\n" % (len(part), part))
    block = b"x" * 65536
    try:
        while sent < 5 * LIMITS.max_request_bytes:
            s.sendall(b"%x\r\n%s\r\n" % (len(block), block))
            sent += len(block)
            s.settimeout(0.05)
            try:
                reply = s.recv(65536)
                if reply:
                    break
            except TimeoutError:
                pass
            s.settimeout(30)
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        s.close()
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert sent < 2 * LIMITS.max_request_bytes  # refused long before the end
    # one file over the per-file limit inside an allowed request
    r = upload(editor, [(b"lon.txt", b"a " * (LIMITS.max_file_bytes // 2 + 10))], editor.csrf)
    assert r.status_code == 413 and "lon.txt" in r.text and "tối đa 0.3 MB mỗi tệp" in r.text
    r = upload(editor, [(f"{i}.txt".encode(), variant(500 + i)) for i in range(LIMITS.max_files + 1)], editor.csrf)
    assert r.status_code == 413 and f"tối đa {LIMITS.max_files} tệp" in r.text
    assert state(site) == before and not list((site.corpus / ".incoming").glob("*.part"))


def test_an_upload_cut_off_mid_body_stores_nothing(site, editor):
    before = state(site)
    body, ctype = multipart([("csrf_token", editor.csrf)], [(b"cut.txt", variant(600) * 3)])
    head = _head(site, editor, "/documents/new", len(body), ctype)
    _raw(site, head, body[: len(body) // 2], close_after_send=True, read=False)  # the client goes away
    time.sleep(1.0)
    reply = _raw(site, _head(site, editor, "/documents/new", len(body) - 40, ctype), body[:-40])  # no closing boundary
    assert reply.startswith(b"HTTP/1.1 400") and "bị cắt giữa chừng".encode() in reply + _rest(reply)
    assert state(site) == before and not list((site.corpus / ".incoming").glob("*.part"))


def _rest(reply: bytes) -> bytes:
    return reply.split(b"\r\n\r\n", 1)[-1]


# --- editing ---------------------------------------------------------------------------------------------

def test_edit_validation_messages_and_nothing_saved(site, editor):
    side = site.corpus / "kien-giang-2017.meta.yaml"
    form = editor.get("/documents/kien-giang-2017/edit").text
    version = re.search(r'name="version" value="([^"]+)"', form)[1]
    base = {"csrf_token": editor.csrf, "version": version}
    for field, value, message in (("date", "31/02/2017", "Ngày 31/02/2017 không tồn tại."),
                                  ("date", "12/12/1930", "Năm 1930 nằm ngoài khoảng cho phép 1945–"),
                                  ("place", "Kiên Giangg", "có phải: tỉnh Kiên Giang"),
                                  ("place", XSS, "Không tìm thấy địa danh")):
        r = editor.post("/documents/kien-giang-2017/edit", data={**base, field: value})
        assert r.status_code == 422 and message in unescape(r.text), (field, value)
        assert "<script>alert" not in r.text and "<img src=x" not in r.text
        assert not side.exists()
    r = editor.patch("/api/documents/kien-giang-2017", json={"version": version, "date": "31/02/2017"},
                     headers={"x-csrf-token": editor.csrf})
    assert r.status_code == 422 and r.json()["errors"]["date"] == "Ngày 31/02/2017 không tồn tại."
    assert editor.patch("/api/documents/kien-giang-2017", json={"version": version, "bogus": 1},
                        headers={"x-csrf-token": editor.csrf}).status_code == 422
    assert not side.exists()


def test_two_editors_on_the_same_document(site, editor):
    other = site.login("editor")
    doc = "/documents/dak-nong-2024/edit"
    v1 = re.search(r'name="version" value="([^"]+)"', editor.get(doc).text)[1]
    v2 = re.search(r'name="version" value="([^"]+)"', other.get(doc).text)[1]
    assert v1 == v2
    a = editor.post(doc, data={"csrf_token": editor.csrf, "version": v1, "number": "12/KH-UBND (sửa)"})
    assert a.status_code == 303 and a.headers["location"].startswith("/jobs/")
    b = other.post(doc, data={"csrf_token": other.csrf, "version": v2, "signer": "Trần Thị B"})
    assert b.status_code == 409
    html = unescape(b.text)
    assert "vừa được người khác sửa" in html and 'value="Trần Thị B"' in html  # B's typing is not lost
    assert 'value="12/KH-UBND (sửa)"' in html  # and A's saved value is in the form B now sends
    side = load_sidecar(site.corpus / "dak-nong-2024.txt")
    assert side["number"] == "12/KH-UBND (sửa)" and "signer" not in side
    v3 = re.search(r'name="version" value="([^"]+)"', b.text)[1]
    assert v3 != v1
    b2 = other.post(doc, data={"csrf_token": other.csrf, "version": v3, "signer": "Trần Thị B"})
    assert b2.status_code == 303
    side = load_sidecar(site.corpus / "dak-nong-2024.txt")
    assert side["number"] == "12/KH-UBND (sửa)" and side["signer"] == "Trần Thị B"
    # many saves at the same instant with the same version: exactly one wins
    api = editor.get("/api/documents/tra-cu-2022/edit").json()
    results: list[int] = []

    def save(i: int) -> None:
        with httpx.Client(base_url=site.base_url, cookies=dict(editor.cookies), timeout=60) as c:
            results.append(c.patch("/api/documents/tra-cu-2022", json={"version": api["version"],
                                                                        "number": f"{i}/UBND"},
                                   headers={"x-csrf-token": editor.csrf}).status_code)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [202] + [409] * 7, results
    assert re.fullmatch(r"\d/UBND", load_sidecar(site.corpus / "tra-cu-2022.txt")["number"])


def test_html_in_metadata_is_shown_escaped_in_forms_and_the_audit_page(site, editor, admin):
    form = editor.get("/api/documents/lang-son-2023/edit").json()
    fields = {"issuer": XSS, "doc_type": XSS, "number": XSS, "subject": XSS, "signer": XSS}
    r = editor.patch("/api/documents/lang-son-2023", json={"version": form["version"], **fields},
                     headers={"x-csrf-token": editor.csrf})
    assert r.status_code == 202, r.text
    assert load_sidecar(site.corpus / "lang-son-2023.txt")["subject"] == XSS  # stored as typed
    page = editor.get("/documents/lang-son-2023/edit").text
    assert page.count("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") >= 4 and "<script>alert" not in page
    doc_page = editor.get("/documents/lang-son-2023").text  # the inline form on the document page
    assert "&lt;img src=x onerror=alert(1)&gt;" in doc_page and "<img src=x" not in doc_page
    audit = admin.get("/audit", params={"action": "edit", "target": "lang-son"}).text
    assert "&lt;script&gt;" in audit and "<script>alert" not in audit and "<img src=x" not in audit
    entry = admin.get("/api/audit", params={"action": "edit", "target": "lang-son"}).json()["entries"][0]
    assert entry["new"]["subject"] == XSS and entry["actor"] == "editor" and entry["address"] == "127.0.0.1"


def test_admin_manages_accounts_and_every_change_is_audited(site, admin):
    r = admin.post("/users", data={"csrf_token": admin.csrf, "name": "ha.tran", "role": "viewer",
                                   "password": "mat-khau-ha-1", "password2": "mat-khau-ha-1"})
    assert r.status_code == 200 and "Đã tạo tài khoản “ha.tran”" in r.text
    assert admin.post("/users", data={"csrf_token": admin.csrf, "name": "ha.tran", "role": "viewer",
                                      "password": "mat-khau-ha-1", "password2": "khac"}).status_code == 422
    assert admin.post("/users/ha.tran/role", data={"csrf_token": admin.csrf, "role": "editor"}).status_code == 200
    r = admin.post("/users/admin/role", data={"csrf_token": admin.csrf, "role": "viewer"})
    assert r.status_code == 409 and "quản trị viên cuối cùng" in r.text
    assert admin.post("/users/ha.tran/remove", data={"csrf_token": admin.csrf}).status_code == 200
    names = [u["name"] for u in admin.get("/api/users").json()]
    assert "ha.tran" not in names and set(PASSWORDS) <= set(names)
    log = admin.get("/api/audit", params={"target": "ha.tran"}).json()["entries"]
    assert [(e["action"], e["old"], e["new"]) for e in reversed(log)] == [
        ("user_add", None, {"role": "viewer"}), ("role_change", {"role": "viewer"}, {"role": "editor"}),
        ("user_remove", {"role": "editor"}, None)]
    assert admin.get("/api/audit", params={"from": "31/02/2024"}).status_code == 400
    assert "Từ ngày" in admin.get("/audit", params={"from": "31/02/2024"}).text


def test_failed_login_is_audited_with_the_address(site, admin):
    c = site.client(headers={"x-forwarded-for": "10.77.0.5"})
    r = c.post("/login", data={"name": "editor", "password": "sai-roi", "csrf_token": csrf_of(c.get("/login").text)})
    assert r.status_code == 401 and "không đúng" in r.text
    e = admin.get("/api/audit", params={"action": "login_failed", "target": "editor"}).json()["entries"][0]
    assert e["address"] == "10.77.0.5" and "sai-roi" not in json.dumps(e)


# --- --read login ------------------------------------------------------------------------------------------

def test_read_login_requires_an_account_for_every_page_and_api(seed_index, tmp_path):
    s = make_site(tmp_path, seed_index, read="login")
    try:
        anon = s.client()
        r = anon.get("/?q=đuối+nước")
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=%2F%3Fq%3D")
        login = anon.get(r.headers["location"]).text
        assert 'name="next" value="/?q=%C4%91u%E1%BB%91i+n%C6%B0%E1%BB%9Bc"' in login  # back to the search after
        for path in ("/api/search?q=x", "/api/documents", "/openapi.json", "/docs", "/api/compare?a=x&b=y"):
            assert anon.get(path).status_code == 401, path
        assert anon.get("/static/style.css").status_code == 200 and anon.get("/login").status_code == 200
        v = s.login("viewer")
        assert v.get("/?q=đuối nước").status_code == 200 and v.get("/api/search", params={"q": "đuối nước"}).json()["total"]
        r = v.post("/account/tokens", data={"csrf_token": v.csrf, "name": "x"})
        token = re.search(r'<code id="new-token">([^<]+)</code>', r.text)[1]
        api = s.client(headers={"authorization": f"Bearer {token}"})
        assert api.get("/api/documents").status_code == 200
        # the login page's "next" never leaves the site
        r = anon.get("/login", params={"next": "//evil.example/x"})
        assert 'name="next" value="/"' in r.text
    finally:
        s.stop()
