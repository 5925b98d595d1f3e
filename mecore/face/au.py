"""Facial action units: the 9 of FGRMER's AU graph, the mesh regions they move, and a reader for
AU cells as the datasets write them ("R12+L14", "4+7", "AU1,AU2", "12C", "(R6 or R12)+R15", "ref(4)").
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
    """One coded AU as a sheet writes it.

    ``side``: "L" / "R" (unilateral), "A" (asymmetric) or "" (both / not said); ``intensity``: FACS A-E
    or ""; ``region``: "T" / "B" (top / bottom lip) or ""; ``alternative``: one of several AUs joined by
    "or" / "/" (the coder hesitated between them); ``uncertain``: bracketed "(12)" or marked "?";
    ``reference``: inside SAMM's ``ref(...)``.
    """

    au: int
    side: str = ""
    intensity: str = ""
    region: str = ""
    alternative: bool = False
    uncertain: bool = False
    reference: bool = False

    def __str__(self) -> str:
        return f"{self.region}{self.side}{self.au}{self.intensity}"


@dataclass(frozen=True)
class AUReading:
    """What a cell holds: the AUs, and the pieces of text that are not AUs (ignored, to be reported)."""

    codes: tuple[AUCode, ...] = ()
    unknown: tuple[str, ...] = ()


# One AU: prefixes (T/B region, L/R side, A asymmetric, in any order; "AU"), 1-2 digits, an intensity.
_AU = re.compile(r"^(?P<pre>(?:[LRTB]|A(?!U))*)(?:AU)?(?P<side2>[LR])?(?P<num>\d{1,2})(?P<int>[A-E])?$")
_REF = re.compile(r"^ref\s*\((?P<inner>.*)\)$", re.I | re.S)
_ALT = re.compile(r"\s*/\s*|\s+or\s+", re.I)
_JOIN = re.compile(r"\b(AU|[LRTBA])\s+(?=\d)", re.I)  # "AU 4", "R 12" -> "AU4", "R12"


def _split_top(text: str, seps: str = "+,;&") -> list[str]:
    """Split at ``seps`` outside brackets: "(R6 or R12)+R15" -> ["(R6 or R12)", "R15"]."""
    parts, depth, cur = [], 0, []
    for ch in text:
        depth += (ch == "(") - (ch == ")" and depth > 0)
        if depth == 0 and ch in seps:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def _enclosed(text: str) -> bool:
    """Whether the outer brackets of "(...)" belong together ("(1)+(2)" is not enclosed)."""
    if not (text.startswith("(") and text.endswith(")")):
        return False
    depth = 0
    for i, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and i < len(text) - 1:
            return False
    return True


def _segment(seg: str, codes: list[AUCode], unknown: list[str], reference: bool, bracketed: bool) -> None:
    """One "+"-separated part of a cell: a group in brackets, a ref(...), or AUs with alternatives."""
    if m := _REF.match(seg):
        for sub in _split_top(m["inner"]):
            _segment(sub, codes, unknown, True, False)
        return
    if _enclosed(seg):
        subs = _split_top(seg[1:-1])
        for sub in subs:
            _segment(sub, codes, unknown, reference, len(subs) == 1)
        return
    flat = _JOIN.sub(lambda m: m[1], seg.replace("(", " ").replace(")", " ").replace("?", " ")).strip()
    words: list[str] = []
    found: list[list] = []  # [au, side, intensity, region]
    for piece in (w for alt in _ALT.split(flat) for w in alt.split()):
        m = _AU.match(piece.upper())
        if m and int(m["num"]) > 0:
            pre = m["pre"] + (m["side2"] or "")
            found.append([int(m["num"]), next((c for c in pre if c in "LRA"), ""), m["int"] or "",
                          next((c for c in pre if c in "TB"), "")])
        elif found and len(piece) == 1 and piece.upper() in "ABCDE":
            # "10A/B": an alternative intensity of the AU before (the first is kept); "12 C": written apart
            found[-1][2] = found[-1][2] or piece.upper()
        else:
            words.append(piece)
    alternative = len(found) > 1 and bool(_ALT.search(flat))
    # brackets round one AU mark it unclear; round "R6 or R12" they only group the alternative
    uncertain = (bracketed and len(found) == 1) or "?" in seg
    codes += [AUCode(au, side, inten, region, alternative, uncertain, reference) for au, side, inten, region in found]
    if words:  # a part with no AU at all is reported as written ("AU?x"), else the words left over
        unknown.append(" ".join(words) if found else seg.strip())


def read_aus(text: object) -> AUReading:
    """Read an AU cell as the datasets write it; never raises.

    CASME II: "R12+L14", "4+7", "AU1,AU2". SAMM's key: L/R unilateral, A asymmetric ("A12",
    "A1B+A2C"), intensity letters A-E ("12C", "10A/B"), "/" and "or" for alternatives ("(R6 or R12)+R15",
    "L12 or L14"), ref(...) for a reference AU, T/B prefixes ("T18", "B23"), stray spaces, "?" or
    brackets for unclear. Text that is not an AU ("+ soft focus") comes back in ``unknown``, one entry
    per "+"-separated part. Empty cells, "?", "-" and "None" hold no AU.
    """
    if text is None:
        return AUReading()
    if isinstance(text, float):
        if text != text:  # NaN from pandas
            return AUReading()
        text = int(text) if text.is_integer() else text
    s = str(text).strip()
    if s.endswith(".0") and s[:-2].isdigit():
        s = s[:-2]
    if s.lower() in ("", "?", "-", "/", "none", "nan", "n/a"):
        return AUReading()
    codes: list[AUCode] = []
    unknown: list[str] = []
    for seg in _split_top(s):
        _segment(seg, codes, unknown, False, False)
    return AUReading(tuple(codes), tuple(unknown))


def parse_aus(text: object, where: str = "") -> tuple[AUCode, ...]:
    """The AUs of ``text``; MexError naming ``where`` (e.g. "sheet.xlsx row 12") for text that is not an AU.

    For strings that must be clean (the project's own sheets, user options); dataset readers use
    ``read_aus`` and report the unknown text instead of losing the row.
    """
    reading = read_aus(text)
    if reading.unknown:
        raise MexError(f"{where + ': ' if where else ''}cannot parse action units {str(text)!r} "
                       f"(token {reading.unknown[0]!r})")
    return reading.codes


def au_numbers(text: object) -> frozenset[int]:
    """The AU numbers coded in ``text``, text that is not an AU ignored.

    Sides, intensities and marks are dropped; every AU of an alternative ("R6 or R12") and a ref(...) AU
    counts: the AU graph asks which AUs move together, and the coder saw one of them move with the rest.
    """
    return frozenset(code.au for code in read_aus(text).codes)


def graph_vector(aus: frozenset[int] | set[int]) -> list[int]:
    """0/1 indicators of the 9 graph AUs in GRAPH_AUS order."""
    return [int(a in aus) for a in GRAPH_AUS]
