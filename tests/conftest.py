"""Shared fixtures. The seed index is built ONCE per session (embedding ~120 chunks takes seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"


@pytest.fixture(scope="session")
def seed_index_build(tmp_path_factory):
    """(index_dir, BuildReport) of the five seed directives, default model. Treat as read-only."""
    from indexer.build import build_index

    index_dir = tmp_path_factory.mktemp("seed-index")
    report = build_index(CORPUS, index_dir, progress=False)
    return index_dir, report


@pytest.fixture(scope="session")
def seed_index(seed_index_build) -> Path:
    return seed_index_build[0]


@pytest.fixture(scope="session")
def search_service(seed_index):
    """A SearchService over the seed index, shared by the session (read-only)."""
    from search_api.service import SearchService

    svc = SearchService.open(seed_index)
    yield svc
    svc.close()
