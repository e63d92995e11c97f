"""Limits and devices of verifying children: parsing, defaults, the CPU-only policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from snapshot.errors import SnapshotError
from snapshot.verification.device import CPU_ONLY, child_environment, reference_device
from snapshot.verification.limits import (
    VerificationLimits,
    default_limits,
    limits_for,
    parse_bytes,
    parse_seconds,
)


def test_defaults_grow_with_the_archive() -> None:
    assert default_limits(0) == VerificationLimits(300.0, 4 << 30)
    assert default_limits(1 << 30) == VerificationLimits(360.0, 8 << 30)


def test_limits_come_from_the_environment(tmp_path: Path) -> None:
    archive = tmp_path / "a.snapshot"
    archive.write_bytes(b"x" * 1000)
    assert limits_for(archive, environ={}) == default_limits(1000)
    set_both = {
        "KERAS_SNAPSHOT_VERIFY_TIMEOUT": "2.5",
        "KERAS_SNAPSHOT_VERIFY_MEMORY": "512MiB",
    }
    assert limits_for(archive, environ=set_both) == VerificationLimits(2.5, 1 << 29)


def test_a_folder_archive_counts_its_files(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 10)
    (tmp_path / "b").write_bytes(b"x" * 20)
    assert limits_for(tmp_path, environ={}) == default_limits(30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1024", 1024), ("2GiB", 2 << 30), ("1.5 kib", 1536), (" 3TiB ", 3 << 40)],
)
def test_sizes(text: str, expected: int) -> None:
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("text", ["", "-1", "0", "2GB", "lots", "1e9"])
def test_bad_sizes_say_what_is_expected(text: str) -> None:
    with pytest.raises(SnapshotError) as raised:
        parse_bytes(text)
    assert str(raised.value) == (
        "KERAS_SNAPSHOT_VERIFY_MEMORY must be a positive size in bytes or with a "
        f"unit (512MiB, 8GiB), not {text!r}"
    )


@pytest.mark.parametrize("text", ["", "0", "-3", "soon", "nan", "inf"])
def test_bad_timeouts_say_what_is_expected(text: str) -> None:
    with pytest.raises(SnapshotError) as raised:
        parse_seconds(text)
    assert str(raised.value) == (
        f"KERAS_SNAPSHOT_VERIFY_TIMEOUT must be a positive number of seconds, not {text!r}"
    )


def test_children_see_no_accelerator_and_no_python_settings() -> None:
    parent = {
        "CUDA_VISIBLE_DEVICES": "0,1",
        "HIP_VISIBLE_DEVICES": "0",
        "JAX_PLATFORMS": "cuda",
        "KERAS_TORCH_DEVICE": "cuda",
        "PYTHONPATH": "/src",
        "PYTHONSAFEPATH": "1",
        "KERAS_BACKEND": "jax",
        "HOME": "/home/me",
    }
    environment = child_environment(parent)
    assert environment == {
        "KERAS_BACKEND": "jax",
        "HOME": "/home/me",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        **CPU_ONLY,
    }
    assert CPU_ONLY == {
        "CUDA_VISIBLE_DEVICES": "",
        "HIP_VISIBLE_DEVICES": "",
        "JAX_PLATFORMS": "cpu",
        "KERAS_TORCH_DEVICE": "cpu",
    }


@pytest.mark.parametrize(
    ("backend", "devices", "expected"),
    [
        ("tensorflow", ["gpu:0"], "cpu:0"),
        ("jax", ["gpu:0", "gpu:1"], "cpu:0"),
        ("jax", ["tpu:0"], "cpu:0"),
        # PyTorch reads variables where they are: its probe stays on their device.
        ("torch", ["cuda:0"], None),
        ("tensorflow", [], None),
    ],
)
def test_reference_outputs_are_computed_on_the_cpu_where_the_backend_can(
    backend: str, devices: list[str], expected: str | None
) -> None:
    assert reference_device(backend, devices) == expected
