"""Reading source files faithfully: encoding, BOM and newlines kept for writing back."""

from __future__ import annotations

import io
import tokenize
from dataclasses import dataclass
from pathlib import Path

BOM = b"\xef\xbb\xbf"


class SourceError(Exception):
    """A file that cannot be read as Python source; the message is one line for users."""


@dataclass(frozen=True)
class Source:
    """A file's text as decoded, and how to encode it back byte for byte."""

    path: Path | None
    display_name: str
    text: str
    encoding: str = "utf-8"
    bom: bool = False

    def encode(self, text: str) -> bytes:
        data = text.encode(self.encoding)
        return BOM + data if self.bom else data


def decode(raw: bytes, display_name: str, path: Path | None = None) -> Source:
    """Decode source bytes per PEP 263, keeping newlines as they are."""
    if b"\x00" in raw:
        raise SourceError("binary file (contains NUL bytes), not Python source")
    bom = raw.startswith(BOM)
    body = raw[len(BOM) :] if bom else raw
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    except SyntaxError as exc:
        raise SourceError(f"bad encoding declaration: {exc}") from None
    if encoding == "utf-8-sig":
        encoding = "utf-8"
    try:
        text = body.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        reason = exc.reason if isinstance(exc, UnicodeDecodeError) else str(exc)
        raise SourceError(f"not valid {encoding} text: {reason}") from None
    return Source(path, display_name, text, encoding, bom)


def read_source(path: Path, display_name: str) -> Source:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror or exc}") from None
    return decode(raw, display_name, path)
