"""Real office files through the whole product, in Debian's headless Chromium: a scan of the signed paper and an
old .doc are indexed, found by search, and their document pages say how they were read (OCR and its
confidence for the scan). Screenshots go to tests/screenshots/ for a human to look at."""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

import pytest

from eval.office_files import docx_from_text, scan_pdf, seed_pdf
from indexer.reading import libreoffice

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not libreoffice.available(), reason="LibreOffice missing")]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parent / "screenshots"
CORPUS = Path(__file__).resolve().parents[1] / "corpus"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
        "--no-first-run", "--disable-component-update", "--disable-sync"]

if not CHROMIUM.exists():
    pytest.skip("Debian chromium is not installed (make browser)", allow_module_level=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    import uvicorn

    from indexer.build import build_index
    from web.app import create_app

    tmp = tmp_path_factory.mktemp("office-site")
    corpus = tmp / "corpus"
    corpus.mkdir()
    scan_pdf(seed_pdf("tra-cu-2022", tmp), corpus / "tra-cu-ban-quet.pdf", seed=5)
    docx = docx_from_text((CORPUS / "kien-giang-2017.txt").read_text(encoding="utf-8"), tmp / "kg.docx")
    (corpus / "kien-giang-cu.doc").write_bytes(libreoffice.convert(docx.read_bytes(), ".docx", "doc"))
    report = build_index(corpus, tmp / "index", progress=False)
    assert not report.errors, report.summary()
    app = create_app(tmp / "index")
    app.state.service.search("đuối nước", k=1)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}", report
    server.should_exit = True
    thread.join(10)
    app.state.service.close()


@pytest.fixture(scope="module")
def page(site):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        pg = browser.new_page(viewport={"width": 1280, "height": 900})
        yield pg
        browser.close()


def test_the_scan_is_found_and_its_page_says_it_was_ocred(site, page):
    base, report = site
    scan = next(f for f in report.files if f.source == "tra-cu-ban-quet.pdf")
    assert scan.ocr and scan.ocr_confidence > 80 and scan.tasks >= 9
    page.goto(f"{base}/?q=Tháng hành động vì trẻ em năm 2022")
    first = page.locator(".result").first
    assert "Trà Cú" in first.inner_text()
    first.locator("h3 a").first.click()
    page.wait_for_load_state()
    note = page.locator(".ocr-note").inner_text()
    assert re.search(r"nhận dạng tự động \(OCR\) 3 trang, độ tin cậy trung bình \d{2}%", note), note
    assert f"{scan.ocr_confidence:.0f}%" in note
    assert "Tesseract" in page.locator(".meta-panel").inner_text()
    SHOTS.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "office-scan-document.png"), full_page=False)
    data = page.request.get(f"{base}/api/documents/tra-cu-ban-quet").json()
    assert data["ingest"]["ocr"] is True and data["ingest"]["ocr_pages"] == 3


def test_the_old_doc_reads_as_its_typed_text(site, page):
    base, _ = site
    page.goto(f"{base}/documents/kien-giang-cu")
    panel = page.locator(".meta-panel").inner_text()
    assert "LibreOffice .doc → .docx" in panel
    assert page.locator(".ocr-note").count() == 0
    outline = page.locator(".outline").inner_text()
    assert "6. Giao Sở Lao động" in outline
    page.screenshot(path=str(SHOTS / "office-doc-document.png"), full_page=False)
