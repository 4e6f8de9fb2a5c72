"""Progress of long work (parsing, OCR, embedding, publishing) reported to whoever runs it.

The command line draws bars; the web app's job queue stores the latest ``Progress`` of a job so its page can
show "OCR trang 4/30". One plain callback, so no stage needs to know who is listening.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

STAGES = ("parsing", "ocr", "embedding", "publishing")


@dataclass(frozen=True)
class Progress:
    stage: str  # one of STAGES
    done: int  # units of work finished in this stage (files, pages, chunks)
    total: int
    source: str = ""  # the file being worked on, when there is one


ProgressFn = Callable[[Progress], None]


def ignore(_: Progress) -> None:
    """The default listener."""
