"""The drafting pages as HTML (no browser): the document page's guidance panel, the propagation page, the
draft check form and report, and the compare picker without JavaScript."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.drafting_corpus import draft_text, drafting_index


@pytest.fixture(scope="module")
def client(seed_index, tmp_path_factory):
    from search_api.service import SearchService
    from web.app import create_app

    index = drafting_index(seed_index, tmp_path_factory)
    svc = SearchService.open(index)
    yield TestClient(create_app(index, service=svc))
    svc.close()


def test_document_page_shows_upstream_and_downstream(client):
    html = client.get("/documents/so-ldtbxh-quang-tri-530-2023").text
    up = html.split('id="up-title"', 1)[1].split('id="down-title"', 1)[0]
    assert 'href="/documents/bo-ldtbxh-636-2023"' in up
    down = html.split('id="down-title"', 1)[1].split("</section>", 1)[0]
    assert 'href="/documents/cam-lo-2023"' in down and 'href="/propagation?doc=so-ldtbxh-quang-tri-530-2023"' in down
    ls = client.get("/documents/lang-son-2023").text
    assert "1011/VP-KGVX" in ls and "Chưa có trong kho" in ls
    cycle = client.get("/documents/vong-tron-a-2021").text
    assert cycle.count('href="/documents/vong-tron-b-2021"') == 2  # once above, once below: no loop


def test_propagation_page(client):
    r = client.get("/propagation", params={"doc": "bo-ldtbxh-636-2023"})
    assert r.status_code == 200
    html = r.text
    assert html.count('class="prop-task"') == 7
    assert "Giữ nguyên văn" in html and "Không có" in html and "<ins" in html
    assert re.search(r"Cách viết <q>[^<]*Zalo tổng đài 111[^<]*</q> xuất hiện đầu tiên ở", html)
    assert 'href="/api/propagation?doc=bo-ldtbxh-636-2023">JSON' in html
    assert client.get("/propagation", params={"doc": "khong-co"}).status_code == 404
    assert client.get("/propagation").status_code == 400


def test_draft_check_page(client):
    assert 'enctype="multipart/form-data"' in client.get("/draft-check").text
    r = client.post("/draft-check", data={"text": draft_text()})
    assert r.status_code == 200
    html = r.text
    for part in ("1. Chưa có trong dự thảo", "2. Đa số đơn vị cùng cấp có", "3. Thay đổi so với năm trước",
                 "4. Chỉ dự thảo có"):
        assert part in html
    missing = html.split('id="missing"', 1)[1].split("</section>", 1)[0]
    assert "lớp dạy bơi" in missing
    assert 'action="/api/draft-check"' in html and 'value="docx"' in html and 'value="md"' in html
    assert "Ngôi nhà an toàn" in html.split('id="only"', 1)[1]


def test_draft_check_page_bad_input(client):
    assert client.post("/draft-check", data={"text": ""}).status_code == 400
    big = "1. Tổ chức các lớp dạy bơi cho trẻ em. " * 140_000
    r = client.post("/draft-check", files={"file": ("du-thao.txt", big.encode()[:5 * 1024 * 1024], "text/plain")})
    assert r.status_code == 413 and "Dự thảo quá lớn" in r.text
    amb = client.post("/draft-check", data={"text": draft_text().replace(" ngày 12/3/2024", "")}).text
    assert amb.count('name="guidance" value="so-ldtbxh-quang-tri-412-') == 2  # both offered, as buttons
    hostile = client.post("/draft-check", data={"text": draft_text() + "\n\n7. <script>alert(1)</script> rà soát."}).text
    assert "<script>alert(1)</script>" not in hostile and "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile


def test_compare_picker_without_javascript(client):
    r = client.get("/compare", params={"a": "quang tri", "b": ""})
    assert r.status_code == 200
    choices = r.text.split('id="choose-A"', 1)[1].split("</section>", 1)[0]
    assert choices.count("<li>") >= 4 and 'href="/compare?a=so-ldtbxh-quang-tri-412-2024"' in choices
    one = client.get("/compare", params={"a": "gio linh"}).text
    assert 'value="gio-linh-2024"' in one and "Gợi ý so sánh với" in one
    sugg = one.split('id="sugg-title"', 1)[1].split("</section>", 1)[0]
    assert 'href="/compare?a=gio-linh-2024&amp;b=' in sugg and "nội dung gần giống" in sugg
    assert client.get("/compare", params={"a": "khong co dau", "b": "tra-cu-2022"}).status_code == 404


def test_compare_page_shows_groups_and_tracked_export(client):
    # Đắk Nông gives the data clean-up to the Sở (1.4) and again to the districts (10.4); Hải Lăng has one task
    html = client.get("/compare", params={"a": "dak-nong-2024", "b": "hai-lang-2024"}).text
    assert "Gộp: 2 ↔ 1 nhiệm vụ" in html
    assert 'href="/api/compare/export?a=dak-nong-2024&amp;b=hai-lang-2024&amp;format=tracked"' in html


def test_draft_check_page_lets_the_user_choose_the_documents(client):
    html = client.post("/draft-check", data={"text": draft_text(), "previous": "tra-cu-2022"}).text
    basis = html.split('id="basis-title"', 1)[1].split("</ul>", 1)[0]
    assert 'href="/documents/tra-cu-2022"' in basis  # the user's choice, not Cam Lộ 2023
    assert 'name="previous" type="search" value="tra-cu-2022"' in html
    assert client.post("/draft-check", data={"text": draft_text(), "previous": "khong-co"}).status_code == 404
