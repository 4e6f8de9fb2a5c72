"""A corpus for the drafting features: the five seeds plus guidance and peer documents written for the tests
(real wording adapted from the seeds; the seeds cite guidance that is not in the corpus).

- Bộ LĐTBXH 636/LĐTBXH-TE (28/02/2023) → Sở LĐTBXH Quảng Trị 530/SLĐTBXH-BTXHTE (14/3/2023) → Cam Lộ 2023
  (seed, which cites "530/SLĐT BXH-BTXHTE"); Lạng Sơn 2023 (seed) cites 636 directly.
- Sở Quảng Trị 412/SLĐTBXH-BTXHTE (12/3/2024) → Gio Linh, Hải Lăng, Triệu Phong 2024 (peers of a Cam Lộ 2024
  draft, ``drafts/du-thao-cam-lo-2024.txt``, which is NOT in the corpus); another 412/SLĐTBXH-BTXHTE of 2022
  makes an undated citation of 412 ambiguous.
- Đakrông and Hướng Hóa 2021 cite each other (a cycle).

The index is the session's seed index plus these files, built incrementally once per session.
"""

from __future__ import annotations

import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures" / "drafting"
DRAFTS = HERE / "fixtures" / "drafts"
_built: dict[str, Path] = {}


def drafting_index(seed_index: Path, tmp_path_factory) -> Path:
    """Build (once) and return the index directory of seeds + drafting fixtures."""
    if "index" in _built:
        return _built["index"]
    from indexer.build import build_index

    tmp = tmp_path_factory.mktemp("drafting")
    corpus, index = tmp / "corpus", tmp / "index"
    shutil.copytree(HERE.parent / "corpus", corpus)
    for f in sorted(FIXTURES.glob("*.txt")):
        shutil.copy(f, corpus / f.name)
    shutil.copytree(seed_index, index)
    report = build_index(corpus, index, progress=False)
    assert not report.errors, report.summary()
    _built["index"] = index
    return index


def draft_text(name: str = "du-thao-cam-lo-2024.txt") -> str:
    return (DRAFTS / name).read_text(encoding="utf-8")
