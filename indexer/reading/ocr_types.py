"""What OCR produces for one page: words with their boxes and confidences (shared by the OCR modules)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["OcrPage", "Word"]


@dataclass
class Word:
    text: str
    conf: float  # 0–100
    left: int
    top: int
    width: int
    height: int
    block: int  # Tesseract's block / paragraph / line numbers within its run
    par: int
    line: int
    zone: int = 0  # 0: the page; 2r+1 / 2r+2: the left / right column of two-column region r (its own run)

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def bottom(self) -> int:
        return self.top + self.height


@dataclass
class OcrPage:
    """What Tesseract saw on one page image (after deskewing), in that image's pixels."""

    number: int  # 1-based page (or frame, or photo) number
    width: int
    height: int
    words: list[Word] = field(default_factory=list)
    skew: float = 0.0  # degrees the page was turned back before recognition
    seconds: float = 0.0  # recognition time (0 for a cache hit)
    cached: bool = False

    def confidence(self) -> float | None:
        confs = [w.conf for w in self.words if w.conf >= 0]
        return sum(confs) / len(confs) if confs else None

    def to_dict(self) -> dict:
        return {"number": self.number, "width": self.width, "height": self.height, "skew": self.skew,
                "seconds": self.seconds,
                "words": [[w.text, w.conf, w.left, w.top, w.width, w.height, w.block, w.par, w.line, w.zone]
                          for w in self.words]}

    @classmethod
    def from_dict(cls, d: dict) -> OcrPage:
        return cls(number=int(d["number"]), width=int(d["width"]), height=int(d["height"]),
                   skew=float(d.get("skew", 0.0)), seconds=0.0, cached=True,
                   words=[Word(str(w[0]), float(w[1]), *(int(x) for x in w[2:10])) for w in d["words"]])


