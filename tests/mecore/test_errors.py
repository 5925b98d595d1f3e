"""run_cli: the exit status every CLI gives (0 success, 2 user error, 130 Ctrl-C), whatever the body returns."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from mecore.errors import MexError, run_cli


@dataclass
class Outcome:  # what train.loso's body returns
    metrics: dict


def _raise(exc):
    raise exc


@pytest.mark.parametrize(("body", "code"), [
    (lambda: None, 0),
    (lambda: 0, 0),
    (lambda: 3, 3),
    (lambda: Outcome({"uf1": 0.5}), 0),  # a result object is success, not a status to print
    (lambda: True, 0),
    (lambda: _raise(MexError("x.csv row 3: bad\nline")), 2),
    (lambda: _raise(KeyboardInterrupt()), 130),
])
def test_status(body, code, capsys):
    assert run_cli(body, interrupted="stopped") == code
    err = capsys.readouterr().err
    if code == 2:
        assert err == "error: x.csv row 3: bad line\n"
    elif code == 130:
        assert err == "error: stopped\n"
    else:
        assert err == ""
