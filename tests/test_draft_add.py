"""A checked draft goes into the corpus only when an editor asks: as an upload (stored, audited, indexed by a
job), with the same refusals as every write (no account, a viewer, no CSRF token, an empty draft, a repeat)."""

from __future__ import annotations

import html
import re
import time

import pytest

from tests.manage_site import make_site

pytestmark = pytest.mark.slow

DRAFT = """ỦY BAN NHÂN DÂN
HUYỆN HẢI LĂNG

Số: 15/KH-UBND

Hải Lăng, ngày 02 tháng 3 năm 2025

KẾ HOẠCH
Thực hiện công tác trẻ em năm 2025

1. Tổ chức dạy bơi an toàn cho trẻ em tại các xã ven biển Hải Lăng trong hè 2025.

2. Rà soát, cắm biển cảnh báo tại các ao, hồ, khe suối nguy hiểm trên địa bàn huyện Hải Lăng.
"""


@pytest.fixture(scope="module")
def site(seed_index, tmp_path_factory):
    s = make_site(tmp_path_factory.mktemp("draft-add"), seed_index, worker=True)
    yield s
    s.stop()


def test_an_editor_adds_a_checked_draft_and_finds_it(site):
    editor = site.login("editor")
    page = editor.post("/draft-check", data={"text": DRAFT})
    assert page.status_code == 200 and 'action="/draft-check/add"' in page.text
    text = re.search(r'<form action="/draft-check/add".*?<textarea name="text" hidden>(.*?)</textarea>', page.text,
                     re.S)[1]
    checked = html.unescape(text)
    assert checked == DRAFT.strip()  # the result page carries the draft as it was checked
    r = editor.post("/draft-check/add", data={"text": checked, "csrf_token": editor.csrf})
    assert r.status_code == 303 and r.headers["location"].startswith("/jobs/")
    job = site.wait_job(editor, int(r.headers["location"].rsplit("/", 1)[1]))
    assert job["state"] == "published", job
    time.sleep(1.1)
    hits = editor.get("/api/search", params={"q": "dạy bơi xã ven biển Hải Lăng", "k": 3}).json()["results"]
    assert hits[0]["document"]["place"] == "Hải Lăng"
    stored = [p for p in site.corpus.rglob("*.txt") if "Hải Lăng" in p.read_text(encoding="utf-8")]
    assert len(stored) == 1 and stored[0].name != "du-thao-hai-lang-2025.txt"  # a generated name, as for uploads
    rows = [dict(r) for r in site.db.con.execute("SELECT actor, action, new FROM audit WHERE action = 'upload'")]
    assert any(r["actor"] == "editor" and "du-thao-hai-lang-2025.txt" in r["new"] for r in rows)
    again = editor.post("/api/draft-check/add", json={"text": checked}, headers={"x-csrf-token": editor.csrf})
    assert again.status_code == 409 and again.json()["file"]["status"] == "duplicate"


def test_adding_a_draft_is_refused_without_the_right_account_or_token(site):
    anonymous, viewer, editor = site.client(), site.login("viewer"), site.login("editor")
    before = site.db.con.execute("SELECT count(*) FROM jobs").fetchone()[0]
    assert anonymous.post("/api/draft-check/add", json={"text": DRAFT}).status_code == 401
    assert viewer.post("/api/draft-check/add", json={"text": DRAFT},
                       headers={"x-csrf-token": viewer.csrf}).status_code == 403
    assert editor.post("/draft-check/add", data={"text": DRAFT}).status_code == 403  # no CSRF token
    assert editor.post("/api/draft-check/add", json={"text": DRAFT}).status_code == 403
    assert editor.post("/draft-check/add", data={"text": "  ", "csrf_token": editor.csrf}).status_code == 400
    assert site.db.con.execute("SELECT count(*) FROM jobs").fetchone()[0] == before
    viewer_page = viewer.post("/draft-check", data={"text": DRAFT})
    assert viewer_page.status_code == 200 and "/draft-check/add" not in viewer_page.text
