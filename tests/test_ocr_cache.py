"""The OCR cache stays bounded: least recently used entries go first, and every publishing build prunes it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from indexer.build import OCR_CACHE, build_index
from indexer.reading import ocr_cache
from indexer.reading.ocr_cache import OcrCache

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def _page(i: int) -> dict:
    """A page as the OCR step stores it: words with boxes and confidences."""
    words = [{"text": w, "box": [10 * k, 20, 10 * k + 8, 30], "conf": 91.0}
             for k, w in enumerate(f"Trang {i}: Ủy ban nhân dân huyện triển khai kế hoạch bảo vệ trẻ em".split())]
    return {"number": i, "words": words, "width": 2480, "height": 3508}


def _fill(cache: OcrCache, n: int) -> list[str]:
    keys = [cache.key(f"{i:064x}", 1, "tesseract-5") for i in range(n)]
    for i, k in enumerate(keys):
        cache.put(k, _page(i))
        os.utime(cache._path(k), (1_000_000 + i, 1_000_000 + i))  # entry i last used at second i
    return keys


def test_prune_keeps_the_most_recently_used_entries(tmp_path):
    cache = OcrCache.at(tmp_path / "c")
    keys = _fill(cache, 10)
    size = cache._path(keys[0]).stat().st_size
    assert cache.get(keys[0]) == _page(0)  # a hit: entry 0 becomes the most recently used
    removed = cache.prune(max_bytes=int(size * 4.5))
    assert removed == 6
    assert [k for k in keys if cache.get(k) is not None] == [keys[0], *keys[7:]]
    assert cache.prune(max_bytes=10**9) == 0  # under the limit: nothing goes


def test_prune_of_a_missing_or_empty_cache_is_a_no_op(tmp_path):
    assert OcrCache.at(tmp_path / "absent").prune(max_bytes=0) == 0
    (tmp_path / "empty").mkdir()
    assert OcrCache.at(tmp_path / "empty").prune(max_bytes=0) == 0


def test_a_publishing_build_prunes_the_index_ocr_cache(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / "tra-cu-2022.txt", corpus)
    index = tmp_path / "index"
    cache = OcrCache.at(index / OCR_CACHE)
    keys = _fill(cache, 8)
    size = cache._path(keys[0]).stat().st_size
    monkeypatch.setattr(ocr_cache, "MAX_BYTES", size * 3)
    report = build_index(corpus, index, progress=False)
    assert report.changed and report.chunks > 0
    assert [k for k in keys if cache._path(k).exists()] == keys[5:]
