"""``serve`` restarts itself once with glibc's huge-page tunable when the kernel gives huge pages on request."""

from __future__ import annotations

from pathlib import Path

from search_api import hugepages


def _mode(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "enabled"
    f.write_text(text)
    return f


def test_wanted_only_in_madvise_mode_without_the_tunable(tmp_path):
    madvise = _mode(tmp_path, "always [madvise] never\n")
    assert hugepages.wanted({}, madvise)
    assert hugepages.wanted({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"}, madvise)  # another tunable: add ours
    assert not hugepages.wanted({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}, madvise)  # already restarted
    assert not hugepages.wanted({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"}, madvise)  # the operator's choice
    assert not hugepages.wanted({"DIRECTIVES_HUGE_PAGES": "0"}, madvise)
    assert not hugepages.wanted({}, _mode(tmp_path, "[always] madvise never\n"))  # huge pages anyway
    assert not hugepages.wanted({}, _mode(tmp_path, "always madvise [never]\n"))
    assert not hugepages.wanted({}, tmp_path / "missing")  # not Linux's sysfs
