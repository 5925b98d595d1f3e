"""Class sets by name, and how each dataset's own emotion words (or objective classes) map onto them."""

from __future__ import annotations

from mecore.errors import MexError

# Class sets by name. A dataset's own emotion words map onto a set's classes; words mapped to None
# are known but left out of that protocol (e.g. CASME II's fear and sadness in the 5-class set).
CLASS_SETS: dict[str, tuple[str, ...]] = {
    "casme2-5": ("happiness", "surprise", "disgust", "repression", "others"),
    "samm-5": ("happiness", "surprise", "anger", "contempt", "others"),
    "casme3-7": ("happiness", "surprise", "disgust", "fear", "anger", "sadness", "others"),
    "casme3-4": ("positive", "negative", "surprise", "others"),
    "composite-3": ("negative", "positive", "surprise"),
    "smic-3": ("negative", "positive", "surprise"),
    # Objective classes (Davison et al. 2018: classes of AU combinations, not of the coder's estimate), as
    # CASME II's and SAMM's sheets carry them in an "Objective Class(es)" column, 1-7; MEGC 2018 used I-V.
    "objective-7": ("I", "II", "III", "IV", "V", "VI", "VII"),
    "objective-5": ("I", "II", "III", "IV", "V"),
}
OBJECTIVE_COLUMNS = ("Objective Class", "Objective Classes", "Objective class")
_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII")

# Spelling variants seen in the sheets -> canonical emotion word.
_ALIASES = {
    "happy": "happiness", "happiness": "happiness", "surprise": "surprise", "surprised": "surprise",
    "disgust": "disgust", "repression": "repression", "others": "others", "other": "others",
    "fear": "fear", "sad": "sadness", "sadness": "sadness", "anger": "anger", "angry": "anger",
    "contempt": "contempt", "positive": "positive", "negative": "negative",
}

# canonical emotion -> class in each set (None: known but excluded from the set).
_MAPS: dict[str, dict[str, str | None]] = {
    "casme2-5": {"happiness": "happiness", "surprise": "surprise", "disgust": "disgust",
                 "repression": "repression", "others": "others", "fear": None, "sadness": None},
    "samm-5": {"happiness": "happiness", "surprise": "surprise", "anger": "anger", "contempt": "contempt",
               "others": "others", "disgust": None, "fear": None, "sadness": None},
    "casme3-7": {e: e for e in CLASS_SETS["casme3-7"]},
    "casme3-4": {"happiness": "positive", "surprise": "surprise", "disgust": "negative", "fear": "negative",
                 "anger": "negative", "sadness": "negative", "others": "others"},
    # MEGC 2019 composite (See et al. 2019): negative = repression, anger, contempt, disgust, fear, sadness; "others" out.
    "composite-3": {"happiness": "positive", "positive": "positive", "surprise": "surprise",
                    "disgust": "negative", "repression": "negative", "anger": "negative", "contempt": "negative",
                    "fear": "negative", "sadness": "negative", "negative": "negative", "others": None},
    "smic-3": {"positive": "positive", "negative": "negative", "surprise": "surprise"},
}


def classes(name: str) -> tuple[str, ...]:
    if name not in CLASS_SETS:
        raise MexError(f"unknown class set {name!r}; known: {', '.join(CLASS_SETS)}")
    return CLASS_SETS[name]


def map_emotion(text: object, class_set: str) -> str | None:
    """The class of ``text`` in ``class_set``; None when the emotion is known but excluded.

    Raises KeyError for an emotion word the set does not know (a bad row). The internal set "_all"
    keeps every non-empty word (the composite's list, not the emotion, gives the class).
    """
    if class_set.startswith("objective"):
        cell = str(text).strip().upper().removeprefix("CLASS").strip().removesuffix(".0")
        roman = _ROMAN[int(cell) - 1] if cell.isdigit() and 1 <= int(cell) <= 7 else cell
        if roman not in _ROMAN:
            raise KeyError(str(text))
        return roman if roman in CLASS_SETS[class_set] else None
    if class_set == "_all":
        word = str(text).strip().lower()
        if not word:
            raise KeyError(str(text))
        return _ALIASES.get(word, word)
    word = _ALIASES.get(str(text).strip().lower())
    if word is None or word not in _MAPS[class_set]:
        raise KeyError(str(text))
    return _MAPS[class_set][word]
