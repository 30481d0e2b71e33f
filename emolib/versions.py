"""Stage versions: the one place that says which version of each expensive stage this code computes.

Every artifact's key includes its stage's version (:func:`emolib.artifacts.artifact` adds it), so a
change of code that changes a stage's results must bump the version here: the golden tests
(``tests/test_golden.py``) fail until it does, and the bump invalidates every cached and shipped artifact
of that stage. An artifact made by another version of its stage is then named, with the command that
recomputes it (:func:`stale_message`).

Example:
    >>> version("prompts") >= 2
    True
    >>> version("nonsense")
    Traceback (most recent call last):
    ...
    ValueError: unknown stage 'nonsense'; valid choices: activations, emotion_vectors, masked-eval, prompts, representations, searchlight, searchlight-released
"""

from __future__ import annotations

__all__ = ["STAGE_VERSIONS", "RECOMPUTE_COMMANDS", "version", "stale_message"]

#: Stage -> version of what this code computes. History:
#: prompts 2, activations 2, masked-eval 2: fixed-shape micro-batches (a row's result no longer depends on
#: the rows beside it; a prompt trained in a grid equals the prompt trained alone) and per-prompt updates;
#: masked-eval also stores its masks and each example's correctness. searchlight 2, searchlight-released 2: the
#: permutation null also counts the paper's criterion per permutation (a p for the unit count); sham taus.
#: searchlight 3, searchlight-released 3: each unit's seed-to-seed reliability stored with the result.
STAGE_VERSIONS: dict[str, int] = {
    "prompts": 2,
    "activations": 2,
    "searchlight": 3,
    "masked-eval": 2,
    "searchlight-released": 3,
    "representations": 1,
    "emotion_vectors": 1,
}

#: Stage -> the command that recomputes its artifacts (for messages; ``{backbone}``/``{profile}`` filled in).
RECOMPUTE_COMMANDS: dict[str, str] = {
    "prompts": "emolib train --backbone {backbone} --profile {profile}",
    "activations": "emolib reproduce backbone --backbone {backbone} --profile {profile} --out DIR",
    "searchlight": "emolib reproduce backbone --backbone {backbone} --profile {profile} --out DIR",
    "masked-eval": "emolib reproduce backbone --backbone {backbone} --profile {profile} --out DIR",
    "searchlight-released": "emolib reproduce searchlight --out DIR",
    "representations": "emolib reproduce valence --backbone {backbone} --profile {profile} --out DIR",
    "emotion_vectors": "emolib reproduce valence --backbone {backbone} --profile {profile} --out DIR",
}


def version(stage: str) -> int:
    """The version of ``stage`` that this code computes; ``ValueError`` naming the stages for an unknown one."""
    if stage not in STAGE_VERSIONS:
        raise ValueError(f"unknown stage {stage!r}; valid choices: {', '.join(sorted(STAGE_VERSIONS))}")
    return STAGE_VERSIONS[stage]


def stale_message(stage: str, folder: str, old: object, backbone: str = "BACKBONE", profile: str = "PROFILE") -> str:
    """The message for an artifact ``folder`` of ``stage`` made by version ``old`` of the stage.

    Example:
        >>> stale_message("prompts", "data/artifacts/prompts-abc", 1, "gemma3-270m", "standard")[:60]
        'data/artifacts/prompts-abc was computed by version 1 of stag'
    """
    command = RECOMPUTE_COMMANDS.get(stage, "emolib reproduce ...").format(backbone=backbone, profile=profile)
    return (f"{folder} was computed by version {old} of stage {stage!r}; this code computes version "
            f"{version(stage)}, so that artifact no longer counts and the stage is recomputed; recompute it "
            f"with: {command} (or re-ship it, see data/README.md)")
