"""A correction saved in a sidecar reaches the index on the next incremental build (the document's bytes did
not change, only its ``NAME.meta.yaml``), and removing the sidecar brings the parsed values back."""

from __future__ import annotations

import shutil
from pathlib import Path

from indexer.build import build_index
from indexer.index.store import IndexStore

REPO = Path(__file__).resolve().parents[1]


def test_sidecar_only_change_is_reindexed(seed_index, tmp_path):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(REPO / "corpus", corpus)
    shutil.copytree(seed_index, index)
    (corpus / "lang-son-2023.meta.yaml").write_text('date: "2023-06-30"\nnumber: "99/KH-SLĐTBXH"\n', encoding="utf-8")
    report = build_index(corpus, index, progress=False)
    assert report.updated == ["lang-son-2023.txt"] and report.errors == []
    st = IndexStore.open(index)
    m = st.document("lang-son-2023").metadata
    assert (m.date, m.number, m.year) == ("2023-06-30", "99/KH-SLĐTBXH", 2023)
    parsed_date = m.parsed["date"]
    assert parsed_date != "2023-06-30" and st.counts()["documents"] == 5
    st.close()
    (corpus / "lang-son-2023.meta.yaml").unlink()
    assert build_index(corpus, index, progress=False).updated == ["lang-son-2023.txt"]
    st = IndexStore.open(index)
    assert st.document("lang-son-2023").metadata.date == parsed_date
    st.close()
