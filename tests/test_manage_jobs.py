"""The ingest queue for real: uploads, edits, removals, restores and replacements become jobs that a child
process indexes with ``build_index``; the running server switches to each new generation by itself. A server
killed in the middle of a job leaves the previous index serving and re-runs the job when it starts again."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from indexer.index.store import CURRENT, IndexStore
from tests.manage_site import free_port, make_site
from tests.test_manage_security import multipart, variant

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow
XSS = "<script>alert(1)</script> Kế hoạch"


def broken_docx() -> bytes:
    """Passes the upload's cheap checks (a zip with word/document.xml) but is not a Word document inside."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document><w:body><w:p>không đóng thẻ")
    return buf.getvalue()


@pytest.fixture(scope="module")
def site(seed_index, tmp_path_factory):
    s = make_site(tmp_path_factory.mktemp("jobs"), seed_index, worker=True)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def editor(site):
    return site.login("editor")


def _post_files(client, files, fields=()):
    body, ctype = multipart([("csrf_token", client.csrf), *fields], files)
    return client.post("/documents/new", content=body, headers={"content-type": ctype})


def _watch(site, client, job_id: int) -> tuple[dict, list[str]]:
    """Poll a job to the end, collecting the status lines shown on the way."""
    seen: list[str] = []
    t0 = time.monotonic()
    while True:
        j = client.get(f"/api/jobs/{job_id}").json()
        if not seen or seen[-1] != j["status"]:
            seen.append(j["status"])
        if j["state"] in ("published", "failed"):
            return j, seen
        assert time.monotonic() - t0 < 900, j
        time.sleep(0.2)


def _search(client, q: str) -> list[str]:
    time.sleep(1.1)  # the service looks for a new generation at most once a second
    return [r["doc_id"] for r in client.get("/api/search", params={"q": q, "k": 20}).json()["results"]]


def test_upload_edit_remove_restore_replace(site, editor):
    good = variant(1).replace("Thử Nghiệm 1".encode(), "Hải Lăng".encode())
    r = _post_files(editor, [("Kế hoạch Hải Lăng.txt".encode(), good), (b"hong.docx", broken_docx()),
                             (b"cu.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 3000)],
                    fields=[("place", "Hải Lăng"), ("number", "77/KH-UBND"), ("date", "15/03/2024")])
    assert r.status_code == 303
    job_id = int(r.headers["location"].rsplit("/", 1)[1])
    page = editor.get(r.headers["location"]).text
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page  # refreshes without JS
    job, seen = _watch(site, editor, job_id)
    assert job["state"] == "published", job
    assert seen[-1] == "Đã xong" and len(seen) >= 2, seen
    items = {i["name"]: i for i in job["items"]}
    ok, bad, doc = items["Kế hoạch Hải Lăng.txt"], items["hong.docx"], items["cu.doc"]
    assert ok["status"] == "indexed" and ok["doc_ids"] == [re.sub(r"\W", "-", ok["path"].rsplit(".", 1)[0])]
    assert bad["status"] == "error" and "corrupt .docx" in bad["message"] and "thùng rác" in bad["message"]
    assert doc["status"] == "error" and "thùng rác" in doc["message"]  # .doc waits for the LibreOffice reader
    assert "Đã xong" in editor.get(f"/jobs/{job_id}").text and "noscript" not in editor.get(f"/jobs/{job_id}").text
    trash = site.login("admin").get("/api/trash").json()
    assert {e["kind"] for e in trash} == {"rejected"} and len(trash) == 2
    doc_id = ok["doc_ids"][0]
    assert doc_id in _search(editor, "Hải Lăng phòng chống đuối nước")
    d = editor.get(f"/api/documents/{doc_id}").json()["metadata"]
    assert (d["place"], d["number"], d["date"], d["original_name"]) == ("Hải Lăng", "77/KH-UBND", "2024-03-15",
                                                                         "Kế hoạch Hải Lăng.txt")
    assert d["province"] == "Quảng Trị"  # the place resolved by the gazetteer
    assert "Tên tệp gốc" in editor.get(f"/documents/{doc_id}").text

    # correct the date (the parsed value is kept beside the correction), with markup in two other fields
    form = editor.get(f"/api/documents/{doc_id}/edit").json()
    r = editor.patch(f"/api/documents/{doc_id}", json={"version": form["version"], "date": "16/03/2024",
                                                       "subject": XSS, "number": "77/<b>KH</b>"},
                     headers={"x-csrf-token": editor.csrf})
    assert r.status_code == 202
    job, _ = _watch(site, editor, r.json()["job"]["id"])
    assert job["state"] == "published" and job["items"][0]["status"] == "indexed"
    time.sleep(1.1)
    m = editor.get(f"/api/documents/{doc_id}").json()["metadata"]
    assert m["date"] == "2024-03-16" and m["parsed"]["date"] == "2023-05-08" and m["overrides"]["date"] == "2024-03-16"
    page = editor.get(f"/documents/{doc_id}").text
    assert "16/03/2024" in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "77/&lt;b&gt;KH&lt;/b&gt;" in page
    assert "<script>alert" not in page and "<b>KH" not in page
    results = editor.get("/", params={"q": "đuối nước", "place": "Hải Lăng"}).text  # titles on the search page
    assert "77/&lt;b&gt;KH&lt;/b&gt;" in results and "<b>KH" not in results

    # remove: gone from search and from the document list; restore (admin): back
    r = editor.delete(f"/api/documents/{doc_id}", headers={"x-csrf-token": editor.csrf})
    job, _ = _watch(site, editor, r.json()["job"]["id"])
    assert job["state"] == "published" and job["items"][0]["status"] == "removed"
    assert doc_id not in _search(editor, "Hải Lăng phòng chống đuối nước")
    assert editor.get(f"/api/documents/{doc_id}").status_code == 404
    admin = site.login("admin")
    entry = next(e for e in admin.get("/api/trash").json() if e["kind"] == "removed")
    assert entry["doc_ids"] == [doc_id] and entry["actor"] == "editor"
    r = admin.post(f"/api/trash/{entry['id']}/restore", headers={"x-csrf-token": admin.csrf})
    assert r.status_code == 202
    job, _ = _watch(site, admin, r.json()["job"]["id"])
    assert job["state"] == "published" and job["items"][0]["doc_ids"] == [doc_id]
    time.sleep(1.1)
    assert editor.get(f"/api/documents/{doc_id}").json()["metadata"]["date"] == "2024-03-16"  # corrections came back

    # replace with a .docx: same document id, the corrections stay, the old file waits in the trash
    import docx

    buf = io.BytesIO()
    w = docx.Document()
    for para in good.decode().replace("Hải Lăng", "Triệu Phong").split("\n\n"):
        w.add_paragraph(para)
    w.save(buf)
    body, ctype = multipart([("csrf_token", editor.csrf)], [("Bản sửa.docx".encode(), buf.getvalue())])
    r = editor.post(f"/documents/{doc_id}/replace", content=body.replace(b'name="files"', b'name="file"'),
                    headers={"content-type": ctype})
    assert r.status_code == 303, r.text[:500]
    job, _ = _watch(site, editor, int(r.headers["location"].rsplit("/", 1)[1]))
    assert job["state"] == "published" and job["items"][0]["doc_ids"] == [doc_id]
    time.sleep(1.1)
    d = editor.get(f"/api/documents/{doc_id}").json()
    assert d["format"] == "docx" and d["metadata"]["date"] == "2024-03-16"
    assert d["metadata"]["original_name"] == "Bản sửa.docx"
    assert any(e["kind"] == "replaced" and e["doc_ids"] == [doc_id] for e in admin.get("/api/trash").json())
    actions = [e["action"] for e in admin.get("/api/audit", params={"target": doc_id}).json()["entries"]]
    assert actions == ["replace", "restore", "remove", "edit"]


# --- a server killed in the middle of a job ----------------------------------------------------------------

def _serve(tmp: Path, port: int) -> subprocess.Popen:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return subprocess.Popen([sys.executable, "-m", "indexer.cli", "serve", "--index-dir", str(tmp / "index"),
                             "--corpus", str(tmp / "corpus"), "--data-dir", str(tmp / "data"), "--host", "127.0.0.1",
                             "--port", str(port)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _wait_up(base: str, proc: subprocess.Popen) -> None:
    t0 = time.monotonic()
    while True:
        assert proc.poll() is None, proc.stdout.read()
        try:
            httpx.get(base + "/api/documents", timeout=2)
            return
        except httpx.TransportError:
            assert time.monotonic() - t0 < 120
            time.sleep(0.3)


def _build_children(data_dir: Path) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                cmd = (p / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"web.ingest.build_job" in cmd and str(data_dir).encode() in cmd:
                out.append(int(p.name))
    return out


def test_a_job_interrupted_by_a_kill_is_rerun_at_start(seed_index, tmp_path):
    import shutil

    from web.accounts import tokens, users
    from web.datadir import DataDB

    shutil.copytree(REPO / "corpus", tmp_path / "corpus")
    shutil.copytree(seed_index, tmp_path / "index")
    db = DataDB(tmp_path / "data")
    token, _ = tokens.create(db, users.add(db, "lan", "bien-tap-vien-1", "editor"), "test")
    before = (tmp_path / "index" / CURRENT).read_text()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _serve(tmp_path, port)
    try:
        _wait_up(base, proc)
        api = httpx.Client(base_url=base, headers={"authorization": f"Bearer {token}"}, timeout=60)
        body, ctype = multipart([], [(b"giua-chung.txt", variant(7))])
        r = api.post("/api/documents", content=body, headers={"content-type": ctype})
        assert r.status_code == 202, r.text
        job_id = r.json()["job"]["id"]
        t0 = time.monotonic()
        while not _build_children(tmp_path / "data"):
            assert time.monotonic() - t0 < 60, api.get(f"/api/jobs/{job_id}").json()
            time.sleep(0.05)
        assert api.get(f"/api/jobs/{job_id}").json()["state"] == "running"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        t0 = time.monotonic()
        while _build_children(tmp_path / "data"):  # the build child dies with its parent
            assert time.monotonic() - t0 < 10
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert (tmp_path / "index" / CURRENT).read_text() == before  # nothing half-published
    st = IndexStore.open(tmp_path / "index")
    assert st.counts()["documents"] == 5
    st.close()
    proc = _serve(tmp_path, port)
    try:
        _wait_up(base, proc)
        api = httpx.Client(base_url=base, headers={"authorization": f"Bearer {token}"}, timeout=60)
        t0 = time.monotonic()
        while (j := api.get(f"/api/jobs/{job_id}").json())["state"] not in ("published", "failed"):
            assert time.monotonic() - t0 < 900
            time.sleep(0.5)
        assert j["state"] == "published" and j["attempts"] == 2 and j["items"][0]["status"] == "indexed", j
        time.sleep(1.1)
        hits = api.get("/api/search", params={"q": "Thử Nghiệm 7 đuối nước", "k": 5}).json()["results"]
        assert j["items"][0]["doc_ids"][0] in [h["doc_id"] for h in hits]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
