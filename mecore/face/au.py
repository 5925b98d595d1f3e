"""Facial action units: the 9 of FGRMER's AU graph, the mesh regions they move, and a parser for
AU strings as the datasets write them ("R12+L14", "4+7", "AU1,AU2", "12C", "L1A+2").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mecore.errors import MexError

# FGRMER's AU graph: 3 brow AUs, 6 mouth AUs, in this order (the fusion multiplies by these columns).
BROW_AUS: tuple[int, ...] = (1, 2, 4)
MOUTH_AUS: tuple[int, ...] = (10, 12, 14, 15, 17, 25)
GRAPH_AUS: tuple[int, ...] = BROW_AUS + MOUTH_AUS

# Mesh vertices each AU moves (subject's right side first). Used to inject AUs in synthetic data and
# to check that an injected AU moved its own region. AU6, 7 and 9 are not graph nodes, but the
# emotions of CASME II are coded with them.
AU_REGIONS: dict[int, tuple[int, ...]] = {
    1: (107, 66, 55, 65, 336, 296, 285, 295),  # inner brow raiser
    2: (70, 63, 46, 53, 300, 293, 276, 283),  # outer brow raiser
    4: (107, 66, 105, 55, 336, 296, 334, 285),  # brow lowerer (pulls brows down and together)
    6: (117, 118, 101, 50, 346, 347, 330, 280),  # cheek raiser
    7: (145, 153, 144, 374, 380, 373),  # lid tightener (lower lids)
    9: (48, 64, 98, 278, 294, 327),  # nose wrinkler (alae)
    10: (0, 37, 39, 40, 267, 269, 270, 13),  # upper lip raiser
    12: (61, 291, 146, 375, 185, 409),  # lip corner puller
    14: (61, 291, 78, 308),  # dimpler
    15: (61, 291, 146, 375, 91, 321),  # lip corner depressor
    17: (152, 175, 199, 200, 18, 17),  # chin raiser
    25: (17, 84, 314, 14, 87, 317),  # lips part (lower lip drops)
}


@dataclass(frozen=True)
class AUCode:
    """One coded AU: number, side ("L", "R" or "" for both/unknown), intensity letter A-E or ""."""

    au: int
    side: str = ""
    intensity: str = ""

    def __str__(self) -> str:
        return f"{self.side}{self.au}{self.intensity}"


_TOKEN = re.compile(r"^(?P<side>[LRBT])?\s*(?:AU)?\s*(?P<side2>[LR])?(?P<num>\d{1,2})(?P<int>[A-Ea-e])?$", re.I)
_SPLIT = re.compile(r"[+,;/&\s]+")
_AU_SPACE = re.compile(r"AU\s+(?=\d)", re.I)


def parse_aus(text: object, where: str = "") -> tuple[AUCode, ...]:
    """Parse an AU string; raise MexError naming ``where`` (e.g. "sheet.xlsx row 12") when it is not one.

    Empty cells and "?" give (). Bracketed "(12)" (uncertain in SAMM) counts as the AU.
    """
    if text is None:
        return ()
    if isinstance(text, float):
        if text != text:  # NaN from pandas
            return ()
        text = int(text) if text.is_integer() else text
    s = _AU_SPACE.sub("AU", str(text).strip().replace("(", "").replace(")", ""))  # "AU 4" -> "AU4"
    if s in ("", "?", "-", "None", "nan"):
        return ()
    out: list[AUCode] = []
    for tok in _SPLIT.split(s):
        if not tok:
            continue
        m = _TOKEN.match(tok)
        if not m:
            raise MexError(f"{where + ': ' if where else ''}cannot parse action units {str(text)!r} (token {tok!r})")
        side = (m["side"] or m["side2"] or "").upper()
        side = side if side in ("L", "R") else ""
        out.append(AUCode(int(m["num"]), side, (m["int"] or "").upper()))
    return tuple(out)


def au_numbers(text: object, where: str = "") -> frozenset[int]:
    """The set of AU numbers coded in ``text`` (sides and intensities dropped)."""
    return frozenset(code.au for code in parse_aus(text, where))


def graph_vector(aus: frozenset[int] | set[int]) -> list[int]:
    """0/1 indicators of the 9 graph AUs in GRAPH_AUS order."""
    return [int(a in aus) for a in GRAPH_AUS]
