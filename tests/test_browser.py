"""End to end in Debian's headless Chromium (never a downloaded browser) against a real uvicorn on 127.0.0.1.

The index is the seed index plus one hostile document, built incrementally from a copy (only the hostile file
is embedded). Screenshots of every page go to tests/screenshots/ (git-ignored) for a human to look at.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parent / "screenshots"
REPO = Path(__file__).resolve().parents[1]
HOSTILE = """ỦY BAN NHÂN DÂN
HUYỆN THỬ NGHIỆM

Số: 9/UBND-TN
V/v kiểm tra hiển thị <script>alert(1)</script>

Thử Nghiệm, ngày 02 tháng 01 năm 2024

Kính gửi: Các phòng, ban.

1. Văn bản này có <script>alert(1)</script> và biểu thức {{ 7*7 }} và ảnh <img src=x onerror=alert(1)> phải hiện nguyên văn.

2. Nhiệm vụ thứ hai về phòng chống đuối nước cho trẻ em, có ký tự & < > " ' để kiểm tra.
"""
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
        "--no-first-run", "--disable-component-update", "--disable-sync"]

if not CHROMIUM.exists():
    pytest.skip("Debian chromium is not installed (make browser)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def base_url(seed_index, tmp_path_factory):
    import uvicorn

    from indexer.build import build_index
    from web.app import create_app

    tmp = tmp_path_factory.mktemp("browser")
    corpus, index = tmp / "corpus", tmp / "index"
    shutil.copytree(REPO / "corpus", corpus)
    (corpus / "hostile-2024.txt").write_text(HOSTILE, encoding="utf-8")
    shutil.copytree(seed_index, index)
    report = build_index(corpus, index, progress=False)
    assert report.added == ["hostile-2024.txt"] and report.encoded <= 5, report.summary()
    app = create_app(index)
    app.state.service.search("đuối nước", k=1)  # load the model before the browser's first request
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
    app.state.service.close()


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
    ctx = browser.new_context(viewport={"width": 1366, "height": 768}, locale="vi-VN")
    pg = ctx.new_page()
    pg.set_default_timeout(15_000)
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.dialogs = dialogs
    yield pg
    ctx.close()


def shot(page, name: str, full: bool = False) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full)


def no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_search_facet_and_open_result(page, base_url):
    page.goto(base_url + "/")
    shot(page, "home")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.fill("#q", "đuối nước")
    page.get_by_role("button", name="Tìm kiếm").click()
    page.wait_for_selector(".result")
    places = set(page.locator(".result .place").all_inner_texts())
    assert len(places) >= 3, places
    assert no_horizontal_overflow(page)
    shot(page, "search")
    page.locator(".facet a", has_text="Lạng Sơn").first.click()
    page.wait_for_selector(".active-filters")
    assert set(page.locator(".result .place").all_inner_texts()) == {"Lạng Sơn"}
    assert "province=" in page.url  # the state is in the URL
    first = page.locator(".result h3 a").first
    href = first.get_attribute("href")
    first.click()
    page.wait_for_selector(".unit.chosen")
    anchor = href.split("#", 1)[1]
    chosen = page.locator(".unit.chosen")
    assert chosen.get_attribute("id") == anchor
    box = chosen.bounding_box()
    assert box and 0 <= box["y"] < 768, box  # scrolled to: its top is on screen
    shot(page, "document")


def test_compare_cam_lo_with_tra_cu(page, base_url):
    page.goto(base_url + "/compare")
    page.fill("#a", "cam-lo-2023")  # the picker is a search box now (issue 15); typing an id works as before
    page.fill("#b", "tra-cu-2022")
    page.get_by_role("button", name="So sánh").click()
    page.wait_for_selector(".cmp-row")
    assert "a=cam-lo-2023" in page.url and "b=tra-cu-2022" in page.url
    row = page.locator('.cmp-row[id^="p-"]', has_text="Tổng đài 111").first
    assert row.locator("del").count() > 0 and row.locator("ins").count() > 0
    assert row.locator("ins").first.is_visible()
    deco = row.locator("ins").first.evaluate("e => getComputedStyle(e).textDecorationLine")
    assert "underline" in deco
    assert "Tóm tắt" in page.inner_text(".compare-head")
    assert no_horizontal_overflow(page)
    row.scroll_into_view_if_needed()
    shot(page, "compare")
    page.emulate_media(media="print")
    assert not page.locator(".site-header").is_visible()
    shot(page, "compare-print")


def test_compare_unmatched_task_links_to_its_nearest_counterpart(page, base_url):
    """Đắk Nông (by agency) against Lạng Sơn (by topic): the Sở's clean-up duty 1.4 has no match; its row
    quotes Lạng Sơn III.7's clean-up sentence and links to the row where III.7 is paired."""
    page.goto(base_url + "/compare?a=dak-nong-2024&b=lang-son-2023")
    row = page.locator('.cmp-row[id^="a-"]', has_text="Hướng dẫn, đôn đốc Ủy ban nhân dân các huyện").first
    near = row.locator(".cmp-b .nearest")
    assert "Gần nhất ở B: mục III.7" in near.inner_text() and "làm sạch dữ liệu" in near.locator("q").inner_text()
    href = near.locator("a").get_attribute("href")
    assert href.startswith("#p-")
    near.scroll_into_view_if_needed()
    shot(page, "compare-nearest")
    near.locator("a").click()
    target = page.locator(href)
    assert "III.7" in target.inner_text() and target.is_visible()
    assert page.evaluate("location.hash") == href
    assert no_horizontal_overflow(page)


def test_evolution_years_in_order(page, base_url):
    page.goto(base_url + "/evolution")
    page.fill("#q", "Tháng hành động vì trẻ em")
    page.get_by_role("button", name="Xem diễn biến").click()
    page.wait_for_selector(".step")
    years = [int(y) for y in page.locator(".step .year").all_inner_texts()]
    assert years.index(2017) < years.index(2022) < years.index(2023), years
    shot(page, "evolution")


def test_precedents_copy_button_is_an_enhancement(page, base_url):
    page.goto(base_url + "/precedents")
    page.fill("#text", "Tổ chức các lớp dạy bơi, kỹ năng phòng, chống đuối nước cho trẻ em trong dịp hè")
    page.get_by_role("button", name="Tìm tiền lệ").click()
    page.wait_for_selector(".precedent")
    assert page.locator("button.copy").first.is_visible()  # JS revealed it
    assert page.locator(".citation").first.inner_text().split()[0] in ("Công", "Kế", "Chỉ", "Quyết")
    shot(page, "precedents")


def test_hostile_document_is_shown_literally_and_runs_nothing(page, base_url):
    page.goto(base_url + "/documents/hostile-2024")
    text = page.inner_text(".doc-text")
    assert "<script>alert(1)</script>" in text
    assert "{{ 7*7 }}" in text and "49" not in text
    assert "<img src=x onerror=alert(1)>" in text
    assert page.locator(".doc-text img, .doc-text script").count() == 0
    page.goto(base_url + "/?q=alert")  # the snippet path escapes too
    page.wait_for_selector(".result")
    assert "<script>alert(1)</script>" in page.inner_text(".results")
    page.wait_for_timeout(300)
    assert page.dialogs == []
    shot(page, "hostile")


def test_pages_work_without_javascript(browser, base_url):
    ctx = browser.new_context(viewport={"width": 1366, "height": 768}, java_script_enabled=False)
    page = ctx.new_page()
    page.goto(base_url + "/?q=duoi+nuoc")  # searching is a plain GET form and links
    assert page.locator(".result").count() >= 3
    page.goto(base_url + "/documents/cam-lo-2023?chunk=cam-lo-2023~7#t-7")  # the #anchor scrolls, no script
    box = page.locator(".unit.chosen").bounding_box()
    assert box and 0 <= box["y"] < 768
    page.goto(base_url + "/precedents?chunk=cam-lo-2023~7")
    assert page.locator(".citation").count() > 0 and not page.locator("button.copy").first.is_visible()
    ctx.close()
