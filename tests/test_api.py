"""The JSON API on a real uvicorn bound to 127.0.0.1 (random free port), over the seed index."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest
import uvicorn

from search_api.app import create_app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def api(seed_index, search_service):
    app = create_app(seed_index, service=search_service)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    t0 = time.monotonic()
    while not server.started:
        assert thread.is_alive() and time.monotonic() - t0 < 30, "uvicorn did not start"
        time.sleep(0.02)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        yield client
    server.should_exit = True
    thread.join(10)
    assert not thread.is_alive()


def test_search_endpoint(api):
    r = api.get("/api/search", params={"q": "đuối nước", "k": 10})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"query", "total", "results"} and body["query"] == "đuối nước"
    res = body["results"]
    assert len(res) == 10
    assert set(res[0]) == {"chunk_id", "doc_id", "text", "path", "headings", "score", "highlights", "document"}
    assert set(res[0]["document"]) == {"doc_id", "title", "place", "province", "level", "doc_type", "number",
                                       "date", "year", "issuer"}
    drowning_docs = {x["doc_id"] for x in res if "đuối nước" in x["text"].lower()}
    assert len(drowning_docs) >= 4
    s, e = res[0]["highlights"][0]
    assert res[0]["text"][s:e]


def test_search_filters_over_http(api):
    r = api.get("/api/search", params={"q": "trẻ em", "k": 100, "province": "Vĩnh Long"}).json()
    assert r["total"] > 0 and {x["doc_id"] for x in r["results"]} == {"tra-cu-2022"}
    r = api.get("/api/search", params={"q": "trẻ em", "k": 100, "year_from": 2023, "year_to": 2024}).json()
    assert r["results"] and all(2023 <= x["document"]["year"] <= 2024 for x in r["results"])
    r = api.get("/api/search", params={"q": "phong chong duoi nuoc tre em", "k": 3}).json()
    assert "đuối nước" in r["results"][0]["text"].lower()


def test_documents_and_chunks(api):
    docs = api.get("/api/documents").json()
    assert {d["doc_id"] for d in docs} == {"cam-lo-2023", "kien-giang-2017", "tra-cu-2022", "lang-son-2023",
                                           "dak-nong-2024"}
    d = api.get("/api/documents/tra-cu-2022").json()
    assert d["doc_id"] == "tra-cu-2022" and d["metadata"]["place"] == "Trà Cú" and d["units"]
    assert d["units"][0]["children"] is not None and d["title"]
    cid = d["chunks"][0]["chunk_id"]
    c = api.get(f"/api/chunks/{cid}").json()
    assert c["chunk_id"] == cid and c["text"] == d["chunks"][0]["text"] and c["document"]["doc_id"] == "tra-cu-2022"
    assert api.get("/docs").status_code == 200
    spec = api.get("/openapi.json").json()
    assert {"/api/search", "/api/documents", "/api/documents/{doc_id}", "/api/chunks/{chunk_id}"} <= set(spec["paths"])


@pytest.mark.parametrize("params, status", [
    ({"q": ""}, 400),
    ({"q": "   "}, 400),
    ({"q": "x" * 2000}, 422),
    ({}, 422),
    ({"q": "a", "k": 0}, 422),
    ({"q": "a", "k": 101}, 422),
    ({"q": "a", "k": "many"}, 422),
    ({"q": "a", "offset": -1}, 422),
    ({"q": "a", "year_from": 2024, "year_to": 2020}, 400),
    ({"q": "a", "year_from": "2020x"}, 422),
])
def test_bad_requests_are_4xx_json(api, params, status):
    r = api.get("/api/search", params=params)
    assert r.status_code == status
    assert r.json()["detail"]


def test_unknown_ids_404(api):
    for url in ("/api/documents/nope", "/api/chunks/nope~1", "/api/documents/%22%27%3B--"):
        r = api.get(url)
        assert r.status_code == 404 and r.json()["detail"].startswith("no ")


def test_hostile_strings_never_500(api):
    for q in ['"', "NEAR(", "đuối OR nước)", "*", "'; DROP TABLE chunks; --", "exact:(x", "\x00", "😀"]:
        r = api.get("/api/search", params={"q": q, "province": q, "agency": q, "section": q})
        assert r.status_code in (200, 400, 422), q
    assert api.get("/api/search", params={"q": "đuối nước"}).status_code == 200  # index intact


def test_status_reports_the_generation_and_warm_up(seed_index):
    """``warm`` is false until the background warm-up of the live generation has run, then true."""
    from fastapi.testclient import TestClient

    from search_api.service import SearchService

    svc = SearchService.open(seed_index, query_only=True)
    with TestClient(create_app(seed_index, service=svc)) as client:
        before = client.get("/api/status").json()
        assert before["warm"] is False
        assert before["generation"] == svc.store.gen_dir.name and before["generation"].startswith("gen-")
        assert before["chunks"] == 123
        svc.warm()
        after = client.get("/api/status").json()
        assert after == {**before, "warm": True}
