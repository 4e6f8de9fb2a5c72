"""The server's background warm-up builds the drafting caches (guidance link graph, document centroids, picker
lines) for each generation it opens, so requests find them ready and never rebuild them."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from search_api.drafting.doc_picker import CENTROIDS, LINES
from search_api.drafting.guidance_links import GRAPH
from search_api.generation_cache import PerGeneration

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "drafting"
CACHES = (GRAPH, CENTROIDS, LINES)


def _refuse(*_a, **_k):
    raise AssertionError("a request rebuilt a cache the warm-up had built")


def _forbid_rebuilds(store, monkeypatch) -> None:
    """The rows the three caches are built from: reading them again in a request means a rebuild."""
    for name in ("reference_rows", "chunk_doc_ids"):
        monkeypatch.setattr(store, name, _refuse)


def _wait_ready(svc, timeout: float = 120.0) -> None:
    t0 = time.monotonic()
    while not all(c.ready(svc) for c in CACHES):
        assert time.monotonic() - t0 < timeout, "the background warm-up did not finish"
        time.sleep(0.05)


@pytest.fixture
def served(seed_index, tmp_path):
    """A private corpus + index (a new generation is built below) served by the app, as `directives serve`."""
    from search_api.app import create_app
    from search_api.service import SearchService

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(REPO / "corpus", corpus)
    shutil.copytree(seed_index, index)
    svc = SearchService.open(index)
    client = TestClient(create_app(index, service=svc))
    yield corpus, index, svc, client
    svc.close()


def test_requests_after_the_warm_up_rebuild_nothing(served, monkeypatch):
    _corpus, _index, svc, client = served
    assert not any(c.ready(svc) for c in CACHES)  # a fresh generation: nothing built yet
    t = threading.Thread(target=svc.warm_generation)  # what svc.warm() (directives serve) and refresh() run
    t.start()
    t.join(120)
    assert all(c.ready(svc) for c in CACHES)
    builds = [c.builds for c in CACHES]
    _forbid_rebuilds(svc.store, monkeypatch)

    links = client.get("/api/documents/lang-son-2023/links").json()
    assert [(u["number"], u["status"]) for u in links["upstream"]] == [("636/LĐTBXH-TE", "missing"),
                                                                      ("1011/VP-KGVX", "missing")]
    sugg = client.get("/api/compare/suggestions", params={"a": "cam-lo-2023"}).json()
    assert len(sugg["results"]) == 4 and {r["document"]["doc_id"] for r in sugg["results"]} == {
        "tra-cu-2022", "lang-son-2023", "kien-giang-2017", "dak-nong-2024"}
    picked = client.get("/api/suggest/documents", params={"q": "cam lo"}).json()
    assert [r["document"]["doc_id"] for r in picked["results"]] == ["cam-lo-2023"]
    assert [c.builds for c in CACHES] == builds


def test_a_new_generation_is_warmed_in_the_background(served, monkeypatch):
    from indexer.build import build_index

    corpus, index, svc, client = served
    svc.warm_generation()
    first = svc.store
    shutil.copy(FIXTURES / "bo-ldtbxh-636-2023.txt", corpus)  # the guidance Lạng Sơn cites
    assert build_index(corpus, index, progress=False).added == ["bo-ldtbxh-636-2023.txt"]
    builds = [c.builds for c in CACHES]
    assert svc.refresh(min_interval=0) and svc.store is not first
    _wait_ready(svc)  # refresh() started the warm-up thread; no request was made
    assert [c.builds for c in CACHES] == [b + 1 for b in builds]
    _forbid_rebuilds(svc.store, monkeypatch)
    svc._checked_at = time.monotonic()  # the next request does not look for yet another generation

    links = client.get("/api/documents/lang-son-2023/links").json()
    [linked] = [u for u in links["upstream"] if u["status"] == "linked"]  # the new document is linked
    assert linked["number"] == "636/LĐTBXH-TE" and linked["documents"][0]["doc_id"] == "bo-ldtbxh-636-2023"
    sugg = client.get("/api/compare/suggestions", params={"a": "bo-ldtbxh-636-2023"}).json()
    assert len(sugg["results"]) == 5
    assert [c.builds for c in CACHES] == [b + 1 for b in builds]


def test_a_request_during_the_warm_up_waits_for_it_instead_of_building_again(search_service):
    started, release = threading.Event(), threading.Event()
    calls = []

    def slow_build(svc):
        calls.append(1)
        started.set()
        release.wait(10)
        return len(svc.documents())

    cache = PerGeneration(slow_build)
    warm = threading.Thread(target=cache.get, args=(search_service,))
    warm.start()
    started.wait(10)
    got: list[int] = []
    req = threading.Thread(target=lambda: got.append(cache.get(search_service)))  # a request meanwhile
    req.start()
    time.sleep(0.2)
    assert not got  # still waiting for the warm-up's build
    release.set()
    warm.join(10)
    req.join(10)
    assert got == [5] and len(calls) == 1 and cache.builds == 1


def test_a_failing_warmer_is_logged_and_the_others_still_run(search_service, caplog):
    ran = []

    def broken(svc):
        raise RuntimeError("disk full")

    svc = search_service
    saved = list(svc._warmers)
    try:
        svc._warmers[:] = []
        svc.add_warmer(broken)
        svc.add_warmer(lambda s: ran.append(len(s.documents())))
        svc.add_warmer(broken)  # registered once only
        svc.warm_generation()
    finally:
        svc._warmers[:] = saved
    assert ran == [5] and "warming broken failed" in caplog.text and "disk full" in caplog.text


def test_an_encoder_that_cannot_load_is_reported_not_waited_for(seed_index, monkeypatch, caplog):
    """Before, ``warm`` stayed false for ever when the model could not be loaded, so a load balancer (or the
    benchmark) waited on a server that would never warm; now the warm-up finishes and says why."""
    from search_api.app import create_app
    from search_api.service import SearchService

    svc = SearchService.open(seed_index)
    try:
        def broken(self, text):
            raise OSError("model file missing: .models/multilingual-e5-small")

        monkeypatch.setattr(SearchService, "_encode_query", broken)
        client = TestClient(create_app(seed_index, service=svc))
        assert client.get("/api/status").json()["warm"] is False
        svc.warm()
        st = client.get("/api/status").json()
        assert st["warm"] is True and "model file missing" in st["encoder_error"]
        assert "the encoder could not be loaded" in caplog.text
    finally:
        svc.close()
