"""mecore.spotlearn: the decoder and windows the learned spotter's training and serving share."""

from __future__ import annotations

import numpy as np

from mecore.spotflow import MIRROR, NAMES, mirror, n_features
from mecore.spotlearn import Decoder, Window, windows


def _probs(p_micro: float, p_macro: float = 0.0) -> np.ndarray:
    return np.array([1.0 - p_micro - p_macro, p_micro, p_macro])


def _run(dec: Decoder, seq) -> list:
    out = []
    for i, p in enumerate(seq):
        out += dec.push(i, p)
    return out + dec.flush()


def test_hysteresis_gives_one_event_from_the_first_frame_above_to_the_last_above_low():
    seq = [_probs(0.1)] * 5 + [_probs(0.6), _probs(0.9), _probs(0.4), _probs(0.35), _probs(0.1)] + [_probs(0.0)] * 5
    (ev,) = _run(Decoder(0.5, low=0.3, gap=2, min_frames=3), seq)
    assert (ev.onset, ev.apex, ev.offset, ev.kind) == (5, 6, 8, "micro") and abs(ev.score - 0.9) < 1e-9


def test_kind_is_the_class_with_more_mass_and_short_blips_are_dropped():
    macro = [_probs(0.0)] * 3 + [_probs(0.3, 0.6)] * 20 + [_probs(0.0)] * 4
    (ev,) = _run(Decoder(0.5), macro)
    assert ev.kind == "macro" and (ev.onset, ev.offset) == (3, 22)
    assert _run(Decoder(0.5, min_frames=3), [_probs(0.0), _probs(0.9), _probs(0.8), _probs(0.0)] + [_probs(0.0)] * 4) == []


def test_a_gap_in_the_frames_ends_an_open_event():
    dec = Decoder(0.5, gap=2, min_frames=2)
    assert dec.push(0, _probs(0.9)) == [] and dec.push(1, _probs(0.9)) == []
    (ev,) = dec.push(10, _probs(0.0))
    assert (ev.onset, ev.offset) == (0, 1) and not dec.active


def test_windows_are_unbroken_runs_of_frames():
    idx = np.array([0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11])
    assert windows(idx, past=2, lookahead=1).tolist() == [2, 3, 4, 8, 9]
    w = Window(3)
    for i in (0, 1, 3, 4):
        w.add(i, np.full(2, i, np.float32))
    assert not w.full
    w.add(5, np.full(2, 5, np.float32))
    assert w.full and w.index(0) == 3 and w.array().shape == (1, 2, 3)


def test_mirror_swaps_sides_and_negates_horizontal_flow_and_is_its_own_inverse():
    x = np.random.default_rng(0).normal(size=(4, n_features())).astype(np.float32)
    m = mirror(x)
    r, left, right = len(NAMES), NAMES.index("mouth_l"), NAMES.index("mouth_r")
    assert MIRROR[left] == right and m[0, 2 * right] == -x[0, 2 * left] and m[0, 2 * right + 1] == x[0, 2 * left + 1]
    assert m[0, 2 * r + right] == x[0, 2 * r + left] and np.array_equal(m[:, 3 * r:], x[:, 3 * r:])
    assert np.allclose(mirror(m), x)


def test_a_held_expression_is_closed_at_max_frames():
    dec = Decoder(0.5, max_frames=10)
    out = [e for i in range(25) for e in dec.push(i, _probs(0.1, 0.8))]
    assert [(e.onset, e.offset, e.kind) for e in out] == [(0, 9, "macro"), (10, 19, "macro")]


def test_a_micro_shaped_span_longer_than_megcs_half_second_is_macro():
    from mecore.spotlearn import micro_frames

    assert micro_frames(30.0) == 15 + 4 and micro_frames(25.0) == 12 + 3  # round(12.5): 12, as StreamConfig.frames
    seq = [_probs(0.0)] * 2 + [_probs(0.9)] * 25 + [_probs(0.0)] * 4
    (long_one,) = _run(Decoder(0.5, micro_frames=19), seq)
    (short,) = _run(Decoder(0.5, micro_frames=30), seq)
    assert (long_one.kind, short.kind) == ("macro", "micro")


def test_pending_at_the_first_frame_below_low_is_the_event_the_gap_then_confirms():
    seq = [_probs(0.1)] * 5 + [_probs(0.6), _probs(0.9), _probs(0.7), _probs(0.1)] + [_probs(0.0)] * 5
    dec, guesses, out = Decoder(0.5, low=0.3, gap=2, min_frames=3), [], []
    for i, p in enumerate(seq):
        out += dec.push(i, p)
        if dec.ending:
            guesses.append((i, dec.pending()))
    (ev,) = out
    assert guesses == [(8, ev)]  # three frames before the gap emitted it
    # a signal that rises again inside the gap makes the guess wrong: the event goes on
    seq2 = seq[:9] + [_probs(0.8), _probs(0.8), _probs(0.1)] + [_probs(0.0)] * 5
    (longer,) = _run(Decoder(0.5, low=0.3, gap=2, min_frames=3), seq2)
    assert longer.offset == 10 != ev.offset
