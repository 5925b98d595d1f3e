"""Action units: the parser on strings as the datasets write them, and the AU regions on a real face."""

from __future__ import annotations

import av
import numpy as np
import pytest

from mecore.errors import MexError
from mecore.face import au
from mecore.face.align import Aligner
from mecore.face.au import AUCode, au_numbers, graph_vector, parse_aus, read_aus
from mecore.face.tracker import FaceTracker


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("R12+L14", (AUCode(12, "R"), AUCode(14, "L"))),  # CASME II sides
        ("4+7", (AUCode(4), AUCode(7))),
        ("AU1,AU2", (AUCode(1), AUCode(2))),
        ("AU 4 + AU 7", (AUCode(4), AUCode(7))),
        ("12C", (AUCode(12, "", "C"),)),  # FACS intensity letter
        ("L1A+R2B", (AUCode(1, "L", "A"), AUCode(2, "R", "B"))),
        ("r12b", (AUCode(12, "R", "B"),)),
        ("1+2+(4)", (AUCode(1), AUCode(2), AUCode(4, uncertain=True))),  # SAMM brackets: uncertain, still the AU
        (12.0, (AUCode(12),)),  # a number cell read by pandas
        (4, (AUCode(4),)),
        (float("nan"), ()),  # an empty cell
        (None, ()),
        ("?", ()),
        ("", ()),
    ],
)
def test_parse_dataset_strings(text, expected):
    assert parse_aus(text) == expected


# SAMM's key (above its header row), one notation each: the codes and the AU set the graph counts.
@pytest.mark.parametrize(
    ("text", "codes", "numbers"),
    [
        ("A12", (AUCode(12, "A"),), {12}),  # asymmetric
        ("A1B+A2C", (AUCode(1, "A", "B"), AUCode(2, "A", "C")), {1, 2}),
        ("(R6 or R12)+R15", (AUCode(6, "R", alternative=True), AUCode(12, "R", alternative=True), AUCode(15, "R")),
         {6, 12, 15}),  # an alternative counts as all its AUs; the brackets only group it
        ("10A/B", (AUCode(10, "", "A"),), {10}),  # intensity A or B: one AU
        ("L12 or L14", (AUCode(12, "L", alternative=True), AUCode(14, "L", alternative=True)), {12, 14}),
        ("4/5", (AUCode(4, alternative=True), AUCode(5, alternative=True)), {4, 5}),
        ("12+ref(6)", (AUCode(12), AUCode(6, reference=True)), {6, 12}),
        ("ref(R6 or R12)", (AUCode(6, "R", alternative=True, reference=True),
                            AUCode(12, "R", alternative=True, reference=True)), {6, 12}),
        ("T18", (AUCode(18, region="T"),), {18}),
        ("B23", (AUCode(23, region="B"),), {23}),
        (" 1 +  2 ", (AUCode(1), AUCode(2)), {1, 2}),  # stray spaces
        ("R 12", (AUCode(12, "R"),), {12}),
        ("12 C", (AUCode(12, "", "C"),), {12}),
        ("12?", (AUCode(12, uncertain=True),), {12}),
        ("(1+2)", (AUCode(1), AUCode(2)), {1, 2}),
    ],
)
def test_samm_key_notations(text, codes, numbers):
    assert read_aus(text) == au.AUReading(codes, ())
    assert au_numbers(text) == frozenset(numbers)


@pytest.mark.parametrize(("text", "numbers", "unknown"), [
    ("4+7 + soft focus", {4, 7}, ("soft focus",)),
    ("12+x", {12}, ("x",)),
    ("happy", set(), ("happy",)),
    ("AU123", set(), ("AU123",)),
    ("L12 (weak)", {12}, ("weak",)),
])
def test_free_text_is_reported_not_fatal(text, numbers, unknown):
    reading = read_aus(text)
    assert {c.au for c in reading.codes} == numbers and reading.unknown == unknown
    assert au_numbers(text) == frozenset(numbers)


def test_str_round_trip():
    codes = parse_aus("L1A+R2B+4")
    assert "+".join(str(c) for c in codes) == "L1A+R2B+4"


@pytest.mark.parametrize("bad", ["happy", "12+x", "AU123", "L1Z"])
def test_bad_string_names_the_row(bad):
    with pytest.raises(MexError) as err:
        parse_aus(bad, where="CASME2-coding.xlsx row 17")
    msg = str(err.value)
    assert msg.startswith("CASME2-coding.xlsx row 17: ") and repr(bad) in msg and "\n" not in msg


def test_numbers_and_graph_vector():
    assert au_numbers("R12+L12+4") == frozenset({4, 12})
    assert au.GRAPH_AUS == (1, 2, 4, 10, 12, 14, 15, 17, 25)
    assert graph_vector(au_numbers("1+2+25+6")) == [1, 1, 0, 0, 0, 0, 0, 0, 1]
    assert graph_vector(set()) == [0] * 9


def test_regions_cover_graph_and_emotion_aus():
    assert set(au.GRAPH_AUS) | {6, 7, 9} <= set(au.AU_REGIONS)
    for number, region in au.AU_REGIONS.items():
        assert len(region) == len(set(region)) >= 4, number
        assert all(0 <= i < 468 for i in region), number


@pytest.fixture(scope="module")
def aligned_landmarks(face_model, face_video) -> np.ndarray:
    with av.open(str(face_video)) as container:
        rgb = next(container.decode(video=0)).to_ndarray(format="rgb24")
    with FaceTracker(face_model, mode="image", max_faces=1, blendshapes=False) as tracker:
        lms = tracker.detect(rgb)[0].landmarks
    return Aligner(256).align(rgb, lms).landmarks


def test_regions_sit_where_their_aus_move_on_a_real_face(aligned_landmarks):
    y = aligned_landmarks[:, 1]
    eyes = y[[33, 133, 362, 263]].mean()
    nose_tip, lower_lip, chin = y[4], y[17], y[152]
    for number in au.BROW_AUS:
        assert y[list(au.AU_REGIONS[number])].max() < eyes - 5, number  # brows, above the eyes
    for number in au.MOUTH_AUS:
        assert y[list(au.AU_REGIONS[number])].min() > nose_tip, number  # mouth, below the nose
    assert y[list(au.AU_REGIONS[17])].mean() > lower_lip and y[152] == pytest.approx(chin)
    cheeks = y[list(au.AU_REGIONS[6])]
    assert (cheeks > eyes).all() and (cheeks < y[61]).all()  # between eyes and mouth corners
    # every region spans both halves of the face
    x = aligned_landmarks[:, 0]
    for number, region in au.AU_REGIONS.items():
        xs = x[list(region)]
        assert xs.min() < 128 < xs.max(), number
