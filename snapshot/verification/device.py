"""Where verification runs: on the CPU, with every accelerator hidden.

The policy. A verifying child, forked or fresh, never sees a GPU or TPU:
``CUDA_VISIBLE_DEVICES`` and ``HIP_VISIBLE_DEVICES`` are empty,
``JAX_PLATFORMS=cpu`` and ``KERAS_TORCH_DEVICE=cpu``. So it cannot take the
training process's accelerator memory (TensorFlow maps all of it by default,
JAX preallocates 75%), and it never fails because a device is busy or absent.
Its outputs then come from CPU kernels, so the saving process computes the
reference outputs of the probe on the CPU too (:func:`reference_outputs_scope`):
GPU kernels round differently (TF32 matrix products differ from the CPU's by
far more than 16 units in the last place). The archive's probe is therefore
what the model computes on a CPU, which is also what ``snapshot verify``
reproduces on any machine later.

This module imports Keras only inside its functions.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator, Mapping
from typing import Any

#: Set in every verifying child, whatever the saving process has.
CPU_ONLY = {
    "CUDA_VISIBLE_DEVICES": "",
    "HIP_VISIBLE_DEVICES": "",
    "JAX_PLATFORMS": "cpu",
    "KERAS_TORCH_DEVICE": "cpu",
}


def child_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of a verifying child: ``environ`` without ``PYTHON*``, on CPU."""
    environment = {k: v for k, v in environ.items() if not k.startswith("PYTHON")}
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return environment | CPU_ONLY


def accelerators() -> list[str]:
    """The non-CPU devices Keras sees in this process (``["gpu:0"]``); ``[]`` on CPU."""
    import keras

    try:
        devices = keras.distribution.list_devices()
    except Exception:  # a backend without device listing: treat as CPU only
        return []
    return [d for d in devices if not str(d).lower().startswith("cpu")]


def reference_device(backend: str, devices: list[str]) -> str | None:
    """The device to compute the probe's reference outputs on; None: the model's own.

    The CPU when an accelerator is among ``devices`` and ``backend`` can run
    a model whose variables live on it from a CPU scope: TensorFlow copies
    GPU variables in, JAX moves uncommitted arrays. PyTorch cannot (its
    variables are read where they are), so it keeps the model's device.
    """
    if devices and backend in ("tensorflow", "jax"):
        return "cpu:0"
    return None


@contextlib.contextmanager
def reference_outputs_scope(devices: list[str] | None = None) -> Iterator[None]:
    """Compute the probe's reference outputs where the verifier will: on the CPU.

    ``devices``: the accelerators present (by default :func:`accelerators`).
    Without one this changes nothing.
    """
    import keras

    found = accelerators() if devices is None else devices
    device = reference_device(keras.backend.backend(), found)
    if device is None:
        yield
        return
    with keras.device(device):
        yield


def fork_hazard(backend: str) -> str:
    """Why this process must not be forked to verify, or ``""`` when it may be.

    A forked child inherits memory, not threads: a runtime that started its
    thread pools (TensorFlow's eager context, JAX's backends, CUDA) would wait
    forever on threads the child does not have. BLAS thread pools (numpy's,
    scipy's OpenBLAS) re-create theirs after a fork and are not a hazard.
    """
    if threading.active_count() > 1:
        names = ", ".join(t.name for t in threading.enumerate()[1:])
        return f"Python threads are running ({names})"
    started = _runtime_started(backend)
    return f"the {backend} runtime is already initialised" if started else ""


def _runtime_started(backend: str) -> bool:
    """Whether ``backend`` has initialised its runtime; True when unsure.

    Reads private state of TensorFlow and JAX (there is no public question for
    it); a release that renames it makes this answer True, the safe side.
    """
    if backend == "tensorflow":
        context: Any = sys.modules.get("tensorflow.python.eager.context")
        current = getattr(context, "_context", False)
        if current is None:
            return False
        return getattr(current, "_context_handle", True) is not None
    if backend == "jax":
        bridge: Any = sys.modules.get("jax._src.xla_bridge")
        return bool(getattr(bridge, "_backends", True))
    if backend == "torch":
        torch: Any = sys.modules.get("torch")
        return torch is None or bool(torch.cuda.is_initialized())
    return backend != "numpy"
