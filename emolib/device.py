"""Devices and precision: ``"auto"`` takes CUDA when it is there and the CPU otherwise.

Every entry point that runs a model takes ``device="auto"`` and resolves it once with
:func:`resolve_device`; a device that is not there is a clear error naming it. Training and masked
evaluation run under :func:`autocast` with the precision of their settings: ``"auto"`` is bf16
autocast on CUDA (prompts and optimiser state stay fp32) and fp32 on the CPU.

Example:
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_precision("auto", resolve_device("cpu"))
    'fp32'
    >>> resolve_device("gpu")
    Traceback (most recent call last):
    ...
    ValueError: unknown device 'gpu'; valid choices: auto, cpu, cuda, cuda:N
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import torch

__all__ = ["DEVICE_CHOICES", "PRECISIONS", "resolve_device", "resolve_precision", "autocast"]

DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N")
PRECISIONS = ("auto", "fp32", "bf16")


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` (or ``None``): CUDA if available, else the CPU; ``"cpu"``, ``"cuda"``, ``"cuda:1"`` as given.

    Raises:
        ValueError: for an unknown name, or a CUDA device that this machine does not have (the
            message names the device and what is available).
    """
    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(device, torch.device):
        text = str(device)
    elif isinstance(device, str):
        text = device.strip().lower()
    else:
        raise ValueError(f"unknown device {device!r}; valid choices: {', '.join(DEVICE_CHOICES)}")
    if text == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", text)
    if match is None:
        raise ValueError(f"unknown device {device!r}; valid choices: {', '.join(DEVICE_CHOICES)}")
    if not torch.cuda.is_available():
        raise ValueError(f"device {text!r} is not available: this machine has no CUDA GPU; valid choices: auto, cpu")
    index = int(match.group(1) or 0)
    count = torch.cuda.device_count()
    if index >= count:
        raise ValueError(f"device {text!r} is not available: this machine has {count} CUDA device(s); "
                         f"valid choices: auto, cpu, " + ", ".join(f"cuda:{i}" for i in range(count)))
    return torch.device(text)


def resolve_precision(precision: str, device: torch.device) -> str:
    """``"auto"`` -> ``"bf16"`` on CUDA, ``"fp32"`` elsewhere; ``"fp32"``/``"bf16"`` as given."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; valid choices: {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bf16" if torch.device(device).type == "cuda" else "fp32"
    return precision


@contextlib.contextmanager
def autocast(device: torch.device, precision: str) -> Iterator[None]:
    """bf16 autocast on ``device`` when ``precision`` (resolved) is ``"bf16"``; nothing for fp32."""
    if resolve_precision(precision, device) == "bf16":
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16):
            yield
    else:
        yield
