"""The drafting pages end to end in Debian's headless Chromium against uvicorn on 127.0.0.1: the draft
check (paste and upload), the propagation view, the document page's guidance panel and the compare picker.
Screenshots go to tests/screenshots/ to be looked at."""

from __future__ import annotations

import io
import threading
import time

import pytest

from tests.drafting_corpus import draft_text, drafting_index
from tests.test_browser import ARGS, CHROMIUM, SHOTS, _free_port, no_horizontal_overflow, shot

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    pytest.skip("Debian chromium is not installed (make browser)", allow_module_level=True)


@pytest.fixture(scope="module")
def base_url(seed_index, tmp_path_factory):
    import uvicorn

    from search_api.service import SearchService
    from web.app import create_app

    index = drafting_index(seed_index, tmp_path_factory)
    svc = SearchService.open(index)
    app = create_app(index, service=svc)
    svc.search("đuối nước", k=1)  # load the model before the browser's first request
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    svc.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN", accept_downloads=True)
    pg = ctx.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    ctx.close()


def test_draft_check_paste_report_and_download(page, base_url, tmp_path):
    page.goto(base_url + "/draft-check")
    page.fill("#text", draft_text())
    shot(page, "draft-check-form")
    page.get_by_role("button", name="Kiểm tra dự thảo").click()
    page.wait_for_selector("#missing")
    missing = page.inner_text("#missing")
    assert "lớp dạy bơi" in missing and "chuẩn hóa" in missing
    cleanup = page.locator("#missing .check-item", has_text="làm sạch dữ liệu")
    assert "Gần nhất trong dự thảo: mục 4" in cleanup.locator(".nearest").inner_text()
    assert cleanup.locator(".nearest q").is_visible()
    peers = page.inner_text("#peers")
    assert "3/3 đơn vị cùng cấp" in peers and "Công văn số" in peers
    assert page.locator("#peers button.copy").first.is_visible()  # the copy button, revealed by JS
    assert page.locator("#changed ins").count() > 0
    assert "Ngôi nhà an toàn" in page.inner_text("#only")
    assert no_horizontal_overflow(page)
    shot(page, "draft-check-report", full=True)
    with page.expect_download() as dl:
        page.get_by_role("button", name="Tải về Word (.docx, theo dõi thay đổi so với năm trước)").click()
    path = tmp_path / "report.docx"
    dl.value.save_as(path)
    assert dl.value.suggested_filename.endswith(".docx") and path.read_bytes()[:2] == b"PK"


def test_draft_check_upload_docx(page, base_url, tmp_path):
    from docx import Document

    doc = Document()
    for line in draft_text().split("\n"):
        doc.add_paragraph(line)
    f = tmp_path / "Dự thảo Cam Lộ 2024.docx"
    buf = io.BytesIO()
    doc.save(buf)
    f.write_bytes(buf.getvalue())
    page.goto(base_url + "/draft-check")
    page.set_input_files("#file", str(f))
    page.get_by_role("button", name="Kiểm tra dự thảo").click()
    page.wait_for_selector("#missing")
    assert "Sở LĐTBXH tỉnh Quảng Trị" in page.inner_text(".compare-head")


def test_propagation_view(page, base_url):
    page.goto(base_url + "/documents/bo-ldtbxh-636-2023")
    assert "Văn bản thực hiện" in page.inner_text(".links-panel")
    page.locator(".links-panel").scroll_into_view_if_needed()
    shot(page, "document-links")
    page.get_by_role("link", name="Xem văn bản này lan tỏa xuống các cấp").click()
    page.wait_for_selector(".prop-task")
    assert page.locator(".prop-task").count() == 7
    assert page.locator(".reuse-note", has_text="Zalo").count() >= 1
    page.locator(".prop-task").nth(1).scroll_into_view_if_needed()
    assert no_horizontal_overflow(page)
    shot(page, "propagation")


def test_compare_picker_search_as_you_type(page, base_url):
    page.goto(base_url + "/compare")
    page.fill("#a", "gio li")
    page.wait_for_selector("#a-list button")
    page.locator("#a-list button", has_text="Gio Linh").first.click()
    assert page.input_value("#a") == "gio-linh-2024"
    page.fill("#b", "hai lang")
    page.wait_for_selector("#b-list button")
    shot(page, "compare-picker")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    assert page.input_value("#b") == "hai-lang-2024"
    page.get_by_role("button", name="So sánh", exact=True).click()
    page.wait_for_selector(".cmp-row")
    assert "a=gio-linh-2024" in page.url and "b=hai-lang-2024" in page.url
    assert page.locator(".suggested li").count() >= 3  # suggested comparisons for A
    shot(page, "compare-picked")
