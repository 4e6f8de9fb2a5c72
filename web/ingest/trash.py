"""The trash: ``corpus/.trash/<id>/`` holds removed, replaced and unreadable files until an admin restores them.

It is a hidden folder of the corpus, so the indexer never sees it (``iter_document_files`` skips hidden path
components) and a move in or out is a rename on the same file system. Each entry keeps the files under their
corpus-relative paths and a ``manifest.json`` saying who removed what, when and why, so the corpus folder
describes itself even without the data directory.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from indexer.parsing.pipeline import iter_document_files
from indexer.parsing.sidecar import sidecar_path

TRASH = ".trash"
RE_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{8}")
KINDS = {"removed": "Đã gỡ", "replaced": "Bản cũ (đã thay)", "rejected": "Không đọc được"}


class TrashError(ValueError):
    """A restore that cannot be done; the message is Vietnamese."""


@dataclass
class TrashEntry:
    id: str
    at: float
    actor: str
    kind: str  # removed | replaced | rejected
    reason: str
    doc_ids: list[str]
    title: str
    files: list[str] = field(default_factory=list)  # corpus-relative paths as they were

    @property
    def kind_label(self) -> str:
        return KINDS.get(self.kind, self.kind)


class Trash:
    def __init__(self, corpus_root: Path):
        self.root = Path(corpus_root).resolve()
        self.dir = self.root / TRASH

    def _entry_dir(self, entry_id: str) -> Path:
        if not RE_ID.fullmatch(entry_id or ""):
            raise TrashError("Mã mục trong thùng rác không hợp lệ.")
        return self.dir / entry_id

    def put(self, doc_path: Path, *, actor: str, kind: str, reason: str = "", doc_ids: list[str] | None = None,
            title: str = "", keep_sidecar: bool = False) -> TrashEntry:
        """Move a document file (and its sidecar, or a copy of it with ``keep_sidecar``) into a new entry."""
        entry = TrashEntry(f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}", time.time(), actor, kind,
                           reason, list(doc_ids or []), title)
        d = self.dir / entry.id / "files"
        side = sidecar_path(doc_path)
        for p, move in ((doc_path, True), (side, not keep_sidecar)):
            if not p.is_file():
                continue
            rel = str(p.resolve().relative_to(self.root))
            target = d / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if move:
                os.replace(p, target)
            else:
                shutil.copy2(p, target)
            entry.files.append(rel)
        (self.dir / entry.id / "manifest.json").write_text(json.dumps(asdict(entry), ensure_ascii=False, indent=1),
                                                          encoding="utf-8")
        return entry

    def entries(self) -> list[TrashEntry]:
        """Newest first; an entry with an unreadable manifest is skipped (it is still on disk)."""
        out = []
        if not self.dir.is_dir():
            return out
        for d in self.dir.iterdir():
            if not RE_ID.fullmatch(d.name):
                continue
            try:
                out.append(TrashEntry(**json.loads((d / "manifest.json").read_text(encoding="utf-8"))))
            except (OSError, ValueError, TypeError):
                continue
        return sorted(out, key=lambda e: e.at, reverse=True)

    def get(self, entry_id: str) -> TrashEntry:
        d = self._entry_dir(entry_id)
        try:
            return TrashEntry(**json.loads((d / "manifest.json").read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise TrashError("Không có mục này trong thùng rác (có thể đã được khôi phục).") from None

    def restore(self, entry_id: str) -> TrashEntry:
        """Move the entry's files back where they were; refuses when a document now occupies that name."""
        entry = self.get(entry_id)
        src = self._entry_dir(entry_id) / "files"
        docs = [f for f in entry.files if not f.endswith(".meta.yaml")]
        for rel in docs:
            target = self.root / rel
            same_stem = [p for p in iter_document_files(self.root)
                         if p.parent == target.parent and p.stem == target.stem]
            if same_stem:
                raise TrashError(f"Không khôi phục được: “{rel}” đang có bản khác "
                                 f"({same_stem[0].relative_to(self.root)}). Hãy gỡ bản đó trước.")
        for rel in entry.files:
            target = self.root / rel
            if rel.endswith(".meta.yaml") and target.exists():
                continue  # the current document's corrections win over the old copy
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src / rel, target)
        shutil.rmtree(self._entry_dir(entry_id))
        return entry
