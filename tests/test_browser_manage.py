"""Staff manage the corpus in Debian's headless Chromium, with JavaScript on and off, against a real uvicorn
whose job worker indexes for real: create an editor, log in, upload two files of which one is broken, watch
the job finish with one error, find the new document by search, correct its date, see the change on the
document page and in the audit log, remove it, see it gone from search, log out. Screenshots go to
tests/screenshots/manage-*.png.
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from tests.manage_site import PASSWORDS, make_site
from tests.test_browser import ARGS, CHROMIUM, SHOTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[1]
SEED = (REPO / "corpus" / "cam-lo-2023.txt").read_text(encoding="utf-8")
HOSTILE_NAME = "<img src=x onerror=alert(1)> Kế hoạch.txt"

if not CHROMIUM.exists():
    pytest.skip("Debian chromium is not installed (make browser)", allow_module_level=True)


def broken_docx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document><w:body>không đóng thẻ")
    return buf.getvalue()


@pytest.fixture(scope="module")
def site(seed_index, tmp_path_factory):
    s = make_site(tmp_path_factory.mktemp("browser-manage"), seed_index, worker=True)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def new_page(browser, js: bool):
    ctx = browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN", java_script_enabled=js)
    page = ctx.new_page()
    page.set_default_timeout(30_000)
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    return ctx, page


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"manage-{name}.png"), full_page=True)


def login(page, base: str, name: str, password: str) -> None:
    page.goto(base + "/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_selector(".account-nav .me")


def wait_job_done(page, timeout: float = 900) -> str:
    """The job page refreshes itself (fetch with JS, meta refresh without); returns its final status line."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            text = page.locator(".job-status").inner_text(timeout=5_000)
            if "Đã xong" in text or "Thất bại" in text:
                return text
        except Exception:  # the page is reloading
            pass
        time.sleep(0.5)
    raise AssertionError("job did not finish")


def flow(browser, site, js: bool, editor: str, password: str, place_word: str) -> None:
    tag = "js" if js else "nojs"
    ctx, page = new_page(browser, js)
    base = site.base_url
    login(page, base, editor, password)
    assert "Tải lên" in page.inner_text(".account-nav")

    # upload two files, one of them broken
    page.click("text=Tải lên")
    text = SEED.replace("CAM LỘ", place_word.upper()).replace("Cam Lộ", place_word).replace("364", "4321")
    page.set_input_files("#files", [
        {"name": HOSTILE_NAME, "mimeType": "text/plain", "buffer": text.encode("utf-8")},
        {"name": "hong.docx", "mimeType": "application/octet-stream", "buffer": broken_docx()}])
    if js:
        assert "Đã chọn 2 tệp" in page.inner_text("[data-file-list]")
    shot(page, f"{tag}-upload")
    page.get_by_role("button", name="Tải lên và lập chỉ mục").click()
    page.wait_for_url("**/jobs/*")
    shot(page, f"{tag}-job-running")
    assert wait_job_done(page) == "Đã xong"
    rows = page.locator(".job-items tbody tr")
    assert rows.count() == 2
    assert page.locator(".job-items .item-error").count() == 1
    assert HOSTILE_NAME in page.inner_text(".job-items")  # shown as text, never as an image tag
    assert page.locator(".job-items img").count() == 0
    assert "corrupt .docx" in page.inner_text(".item-error")
    shot(page, f"{tag}-job-done")

    # find the new document by search
    page.goto(base + "/")
    page.fill("#q", "đuối nước")
    page.get_by_role("button", name="Tìm kiếm").click()
    page.wait_for_selector(".result")
    page.goto(page.url + "&place=" + place_word)  # the filter state lives in the URL
    page.wait_for_selector(".result")
    assert set(page.locator(".result .place").all_inner_texts()) == {place_word}
    shot(page, f"{tag}-search")
    first = page.locator(".result").first
    first.locator("h3 a").click()
    page.wait_for_selector(".meta-panel")
    doc_url = page.url.split("?")[0]
    assert "08/05/2023" in page.inner_text(".meta-panel") and HOSTILE_NAME in page.inner_text(".meta-panel")

    # correct its date
    page.locator(".edit-details summary").click()
    page.fill("#e-date", "16/03/2024")
    page.locator(".manage-panel").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"manage-{tag}-edit-form.png"))
    page.get_by_role("button", name="Lưu thay đổi").click()
    page.wait_for_url("**/jobs/*")
    assert wait_job_done(page) == "Đã xong"
    page.goto(doc_url)
    assert "16/03/2024" in page.inner_text(".meta-panel")
    shot(page, f"{tag}-document-edited")

    # the change in the audit log (an admin's page)
    actx, admin = new_page(browser, js)
    login(admin, base, "admin", PASSWORDS["admin"])
    admin.goto(base + f"/audit?action=edit&actor={editor}")
    row = admin.locator("table.audit tbody tr").first
    assert "2023-05-08" in row.inner_text() and "2024-03-16" in row.inner_text() and editor in row.inner_text()
    admin.goto(base + f"/audit?action=upload&actor={editor}")
    assert HOSTILE_NAME in admin.inner_text("table.audit") and admin.locator("table.audit img").count() == 0
    shot(admin, f"{tag}-audit")
    admin.goto(base + "/trash")
    assert "hong.docx" in admin.inner_text("table.trash") and "Tệp bị hỏng" in admin.inner_text("table.trash")
    shot(admin, f"{tag}-trash")
    actx.close()
    page.goto(base + "/account")
    assert editor in page.inner_text("main")
    shot(page, f"{tag}-account")

    # remove it, and it is gone from search
    page.goto(doc_url)
    page.click("text=Gỡ văn bản")
    page.get_by_role("button", name="Gỡ văn bản").click()
    page.wait_for_url("**/jobs/*")
    assert wait_job_done(page) == "Đã xong"
    doc_path = doc_url.removeprefix(base)
    page.goto(base + "/?q=đuối+nước&place=" + place_word)
    assert page.locator(".result").count() == 0
    assert page.locator(f'.result h3 a[href^="{doc_path}"]').count() == 0
    page.goto(doc_url)
    assert page.locator("h1").inner_text() == "Không tìm thấy"
    shot(page, f"{tag}-removed")

    # log out
    page.goto(base + "/")
    page.get_by_role("button", name="Đăng xuất").click()
    page.wait_for_selector("text=Đăng nhập")
    assert page.locator(".account-nav .me").count() == 0
    page.goto(base + "/documents/new")
    assert "/login" in page.url
    assert page.dialogs == []
    ctx.close()


def test_manage_with_javascript(browser, site):
    ctx, admin = new_page(browser, True)
    login(admin, site.base_url, "admin", PASSWORDS["admin"])
    admin.goto(site.base_url + "/users")
    admin.fill("#name", "lan")
    admin.select_option("#role", "editor")
    admin.fill("#password", "lan-bien-tap-1")
    admin.fill("#password2", "lan-bien-tap-1")
    admin.get_by_role("button", name="Tạo tài khoản").click()
    assert "Đã tạo tài khoản “lan”" in admin.inner_text("main")
    shot(admin, "users")
    ctx.close()
    flow(browser, site, True, "lan", "lan-bien-tap-1", "Vĩnh Linh")


def test_manage_without_javascript(browser, site):
    r = subprocess.run([sys.executable, "-m", "indexer.cli", "user", "add", "binh", "--role", "editor",
                        "--password-stdin", "--data-dir", str(site.data)], input="binh-bien-tap-1\n", text=True,
                       capture_output=True, cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stderr
    flow(browser, site, False, "binh", "binh-bien-tap-1", "Hướng Hóa")
