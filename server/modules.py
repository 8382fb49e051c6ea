"""The static ES modules a page's entry module imports, directly or not, so the page can ask for all
of them at once (``<link rel="modulepreload">``) instead of discovering them one import level at a
time: the layer view's 45 modules took about 640 ms on loopback as a waterfall of six levels."""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import PurePosixPath

from convscope.resources import data_path

IMPORT = re.compile(r"""(?:^|\n)\s*(?:import|export)\b[^;"']*?from\s*["'](\.{1,2}/[^"']+)["']|(?:^|\n)\s*import\s*["'](\.{1,2}/[^"']+)["']""")


@lru_cache(maxsize=8)
def closure(entry: str) -> tuple[str, ...]:
    """Paths under static/ (``js/core/api.js``…) that ``entry`` (``js/main.js``) imports, in the
    order they are first reached; the entry itself is left out (its own script tag loads it)."""
    root = data_path("static")
    seen: dict[str, None] = {}
    stack = [entry]
    while stack:
        path = stack.pop()
        text = (root / path).read_text(encoding="utf-8")
        for match in IMPORT.finditer(text):
            spec = match.group(1) or match.group(2)
            target = str(PurePosixPath(_normal(PurePosixPath(path).parent / spec)))
            if target not in seen and target != entry:
                seen[target] = None
                stack.append(target)
    return tuple(seen)


def _normal(p: PurePosixPath) -> PurePosixPath:
    parts: list[str] = []
    for part in p.parts:
        if part == "..":
            parts.pop()
        elif part != ".":
            parts.append(part)
    return PurePosixPath(*parts)
