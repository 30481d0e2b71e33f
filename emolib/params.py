"""Validation of chapter parameters and CLI options, before anything runs.

Each known parameter has a check that returns the parsed value or raises ``ValueError`` naming the
value and what is valid. Lists accept ``"a b"``, ``"a,b"`` and real lists alike
(:func:`emolib.profiles.as_list`). ``emolib book -p NAME VALUE`` and ``emolib reproduce``/``train``
run these checks first, so a typo fails in a second instead of after an hour of chapters.

Example:
    >>> check_parameter("seeds", "1,2 3")
    [1, 2, 3]
    >>> check_parameter("splits", "dev,exam")
    Traceback (most recent call last):
    ...
    ValueError: unknown split(s) ['exam'] for splits; valid choices: dev, test
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from emolib.emotions import EMOTIONS
from emolib.profiles import as_list, check_profile

__all__ = ["CHECKS", "check_parameter", "check_parameters", "integer", "seed_list", "emotion_list"]

SPLITS = ("dev", "test")
#: the released masking sizes of Li et al. (``silencing_released``'s ``k``)
RELEASED_K = (500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000)
#: FFN units of the released RoBERTa-base (``neurons_released``'s ``top_n`` is at most this)
RELEASED_UNITS = 36864

def _no_repeats(values: list, name: str) -> list:
    repeated = sorted({str(v) for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"{name} repeats {', '.join(repeated)} (got {values!r}); give each value once")
    return values

def _items(value: Any, name: str) -> list:
    items = as_list(value)
    if not items:
        raise ValueError(f"{name} must not be empty (got {value!r}); give at least one value, e.g. {name}=\"1,2\"")
    return items

def integer(value: Any, name: str, minimum: int = 0, maximum: int | None = None) -> int:
    """``value`` as an int in ``[minimum, maximum]``; ``ValueError`` naming the value and the valid range."""
    valid = f"an integer >= {minimum}" + (f" and <= {maximum}" if maximum is not None else "")
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"{name} must be {valid}, got {value!r}")
    try:
        number = int(str(value).strip()) if not isinstance(value, (int, float)) else int(value)
    except ValueError:
        raise ValueError(f"{name} must be {valid}, got {value!r}") from None
    if number < minimum or (maximum is not None and number > maximum):
        raise ValueError(f"{name} must be {valid}, got {value!r}")
    return number

def _fraction(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number between 0 and 1 (exclusive), got {value!r}") from None
    if not 0 < number < 1 or isinstance(value, bool):
        raise ValueError(f"{name} must be a number between 0 and 1 (exclusive), got {value!r}")
    return number

def seed_list(value: Any, name: str = "seeds") -> list[int]:
    """Non-negative integer seeds, none repeated, at least one (``"1 2"``, ``"1,2"`` or ``[1, 2]``)."""
    return _no_repeats([integer(v, f"each of {name}") for v in _items(value, name)], name)

def _names(value: Any, name: str, choices: tuple[str, ...] | list[str], unknown: str) -> list[str]:
    """Names from ``choices``, none repeated, at least one; ``unknown`` words the error (``{bad}``: the bad names)."""
    items = [str(v) for v in _items(value, name)]
    bad = [v for v in items if v not in choices]
    if bad:
        raise ValueError(f"{unknown.format(bad=repr(bad))}; valid choices: {', '.join(choices)}")
    return _no_repeats(items, name)

def emotion_list(value: Any, name: str = "emotions") -> list[str]:
    """Known emotion names, none repeated, at least one."""
    return _names(value, name, EMOTIONS, "unknown emotion {bad}")

def _k_values(value: Any, name: str = "k_values") -> list[float]:
    out = []
    for v in _items(value, name):
        try:
            number = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: {v!r} is not a number; give fractions of the units (0 < k < 1) "
                             "or unit counts (integers >= 1)") from None
        if number <= 0 or (number >= 1 and not number.is_integer()):
            raise ValueError(f"{name}: {v!r} is neither a fraction of the units (0 < k < 1) nor a unit count "
                             "(an integer >= 1)")
        out.append(number)
    return _no_repeats(out, name)

def _splits(value: Any, name: str = "splits") -> list[str]:
    return _names(value, name, SPLITS, "unknown split(s) {bad} for " + name)

def _optional(check: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    return lambda value, name: None if value is None else check(value, name)

def _device(value: Any, name: str) -> str:
    from emolib.device import resolve_device

    resolve_device(value)  # ValueError naming the device and the valid choices
    return value

def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value

def _backbone(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a backbone name, folder or hub id, got {value!r}")
    return value  # tiny-<family> names: emolib.model.backbones.check_backbone_name (a wing above)

def _released_k(value: Any, name: str) -> int:
    number = integer(value, name, minimum=1)
    if number not in RELEASED_K:
        raise ValueError(f"{name} = {value!r} is not a released mask size; valid choices: "
                         f"{', '.join(map(str, RELEASED_K))}")
    return number

#: parameter name -> check(value, name) returning the parsed value
CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "profile": lambda v, n: check_profile(v),
    "backbone": _backbone,
    "device": _device,
    "seeds": _optional(seed_list),
    "emotions": _optional(emotion_list),
    "k_values": _optional(_k_values),
    "n_draws": _optional(lambda v, n: integer(v, n, minimum=0)),
    "splits": _optional(_splits),
    "permutations": _optional(lambda v, n: integer(v, n, minimum=0)),
    "bootstrap_seed": lambda v, n: integer(v, n, minimum=0),
    "sample_seed": lambda v, n: integer(v, n, minimum=0),
    "seed": _optional(lambda v, n: integer(v, n, minimum=0)),
    "recompute": _bool,
    "top_n": lambda v, n: integer(v, n, minimum=1, maximum=RELEASED_UNITS),
    "alpha": _fraction,
    "fwer_alpha": _fraction,
    "n_boot": _optional(lambda v, n: integer(v, n, minimum=1)),
    "n_repeats": _optional(lambda v, n: integer(v, n, minimum=1)),
    "k": _released_k,
}

def check_parameter(name: str, value: Any) -> Any:
    """The parsed ``value`` of parameter ``name`` (unknown names pass unchanged); ``ValueError`` if bad."""
    check = CHECKS.get(name)
    return value if check is None else check(value, name)

def check_parameters(values: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`check_parameter` of every item; raises at the first bad one."""
    return {name: check_parameter(name, value) for name, value in values.items()}
