"""The TensorRT parts that need no TensorRT: plan header pack/unpack, cache key, optimisation profile."""

from __future__ import annotations

import pytest

from engines import plan
from engines.artifacts import verify
from mecore.errors import MexError

META = {"model": "magnifier", "version": "1", "normalisation": "rgb/127.5-1", "code_version": "x", "created": "t",
        "amplification": {"min": 1, "max": 20, "default": 10},
        "inputs": [{"name": "onset", "shape": ["N", 3, "H", "W"], "dtype": "float32"},
                   {"name": "amplification", "shape": ["N"], "dtype": "float32"}],
        "outputs": [{"name": "magnified", "shape": ["N", 3, "H", "W"], "dtype": "float32"}]}
ENGINE = bytes(range(256)) * 40


def test_pack_unpack_roundtrip():
    header = {"model": "magnifier", "engine_size": len(ENGINE), "meta": META, "trt_version": "10.9.0"}
    data = plan.pack(header, ENGINE)
    assert data.startswith(plan.MAGIC)
    got, engine = plan.unpack(data, "x.plan")
    assert got == header and engine == ENGINE


@pytest.mark.parametrize("cut, match", [(4, "bad magic"), (12, "truncated inside its header"),
                                         (40, "truncated or corrupt"), (-10, "plan truncated")])
def test_truncated_plans_name_the_file(cut, match):
    data = plan.pack({"engine_size": len(ENGINE), "meta": META}, ENGINE)
    with pytest.raises(MexError, match=match) as info:
        plan.unpack(data[:cut], "engines/trt/m.plan")
    assert "engines/trt/m.plan" in str(info.value)


def test_foreign_and_headerless_plans():
    with pytest.raises(MexError, match="bad magic"):
        plan.unpack(b"\x00" * 100, "a.plan")
    with pytest.raises(MexError, match="not JSON"):
        plan.unpack(plan.MAGIC + (3).to_bytes(8, "little") + b"{{{" + ENGINE, "a.plan")
    with pytest.raises(MexError, match="no model metadata"):
        plan.unpack(plan.pack({"engine_size": len(ENGINE)}, ENGINE), "a.plan")


def test_a_plan_file_is_a_verified_artifact(tmp_path):
    path = tmp_path / "magnifier.plan"
    path.write_bytes(plan.pack({"engine_size": len(ENGINE), "meta": META}, ENGINE))
    _, meta = verify(path, None)
    assert meta["model"] == "magnifier"
    path.write_bytes(plan.pack({"engine_size": len(ENGINE), "meta": {**META, "inputs": "x"}}, ENGINE))
    with pytest.raises(MexError, match="metadata 'inputs' must be a list"):
        verify(path, None)


def test_cache_key_changes_with_every_part():
    base = ("NVIDIA H100 80GB HBM3", "9.0", "10.9.0", "a" * 64, {"fp16": True})
    key = plan.cache_key(*base)
    assert key == plan.cache_key(*base) and len(key) == 20
    variants = [("NVIDIA L4", *base[1:]), (base[0], "8.9", *base[2:]), (*base[:2], "11.0.0", *base[3:]),
                (*base[:3], "b" * 64, base[4]), (*base[:4], {"fp16": False})]
    assert len({plan.cache_key(*v) for v in variants} | {key}) == 6
    path = plan.cache_path("engines/trt", "magnifier", "a" * 64, key)
    assert path.name == f"magnifier-{'a' * 12}-{key}.plan" and path.parent.name == "trt"


def test_profile_from_metadata():
    prof = plan.profile(META, max_batch=8, image_size=128)
    assert prof["onset"] == [[1, 3, 64, 64], [1, 3, 128, 128], [8, 3, 256, 256]]
    assert prof["amplification"] == [[1], [1], [8]]
    fixed = plan.profile({**META, "trt_profile": {"H": [256, 256, 256], "W": [256, 256, 256]}})
    assert fixed["onset"] == [[1, 3, 256, 256], [1, 3, 256, 256], [8, 3, 256, 256]]
    assert plan.profile({**META, "image_size": 64})["onset"][1] == [1, 3, 64, 64]
