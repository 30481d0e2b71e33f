"""Soft-prompt layouts and scoring: where the prompt goes, where the answer is read, two-row LM head.

Two layouts, chosen by the backbone's kind:

- **masked LM** (the paper): ``[<mask>, P1..PL, <s>, text..., </s>]``; the answer is read at the
  mask token. Prompt vectors get no token-type embedding (as in the original). Position ids follow
  the model's convention over the real tokens (RoBERTa: ``padding_idx + 1 + i``), or, with
  ``position_quirk=True``, the original's ``0..n-1`` (mask on row 0, P1 on RoBERTa's padding row 1).
- **causal LM**: ``[P1..PL, <bos>?, text..., suffix]``; the answer is the next token after the
  last position (verbalizer words with a leading space for BPE vocabularies). With
  ``prompt_position="after"`` the prompt follows the comment, ``[<bos>?, text..., P1..PL, suffix]``,
  so the prompt tokens can attend to the text; the prompt alone (:meth:`PromptScorer.prompt_only`)
  is then ``[<bos>?, P1..PL, suffix]`` (an empty comment, as in the other layouts). Because the text's
  states do not depend on a prompt that follows it, :meth:`PromptScorer.score` runs the text once
  without gradients and only the prompt and suffix with them (the same logits, about half the work).

Either way the verbalizer logits are the LM head's two verbalizer rows applied at the read-out only
(through the MLM head transform for masked LMs). Padding is dynamic, on the left or the right, and
position ids count real tokens only, so padding never changes a logit.

Example:
    >>> import torch
    >>> from emolib.model import load_backbone
    >>> scorer = PromptScorer(load_backbone("tiny-roberta", device="cpu"))
    >>> batch = scorer.batch(["so happy today", "meh"], torch.zeros(2, 4, 32))
    >>> scorer.logits(batch).shape
    torch.Size([2, 2])
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from torch import nn

from emolib.model.backbones import Backbone, load_backbone
from emolib.profiles import DEFAULT_SUFFIX, PROMPT_POSITIONS

__all__ = ["PromptScorer", "DEFAULT_SUFFIX", "PROMPT_POSITIONS", "verbalizer_token_ids"]

logger = logging.getLogger(__name__)

def verbalizer_token_ids(backbone: Backbone, words: Sequence[str]) -> list[int]:
    """Single-token ids of the verbalizer words for ``backbone``.

    Masked LMs use the bare words (the paper's space-less ``negative``/``positive``); causal LMs the
    words with a leading space (the token that follows ``"Answer:"``), falling back to the bare word.

    Raises:
        ValueError: if a word is neither form a single token (message names the word and backbone).
    """
    if len(words) != 2 or len(set(words)) != 2:
        raise ValueError(f"the verbalizer needs two different words (class 0, class 1), got {tuple(words)!r}")
    ids = []
    for word in words:
        forms = [word, " " + word.lstrip()] if backbone.kind == "masked" else [" " + word.lstrip(), word]
        for i, form in enumerate(forms):
            try:
                ids.append(backbone.token_id(form))
                break
            except ValueError:
                if i == len(forms) - 1:
                    raise
    if ids[0] == ids[1]:
        raise ValueError(f"verbalizer words {tuple(words)!r} map to the same token for {backbone.name!r}")
    return ids


class PromptScorer:
    """Builds prompt-augmented batches for one backbone and scores them at the read-out.

    Args:
        backbone: a :class:`~emolib.backbones.Backbone` or anything :func:`load_backbone` accepts.
        verbalizer: the class-0 and class-1 words.
        max_length: truncate each comment to this many tokens (special tokens included; ``None``: no limit).
        position_quirk: masked LMs only: the original's position ids ``0..n-1`` instead of the model's own.
        suffix: causal LMs only: fixed text after the comment.
        padding_side: ``"right"`` or ``"left"`` (results are identical; default: right).
        prompt_position: ``"before"`` the comment (the paper) or, causal LMs only, ``"after"`` it
            (between the comment and the suffix).
    """

    def __init__(
        self,
        backbone: Backbone | str,
        *,
        verbalizer: Sequence[str] = ("negative", "positive"),
        max_length: int | None = None,
        position_quirk: bool = False,
        suffix: str = DEFAULT_SUFFIX,
        padding_side: str = "right",
        prompt_position: str = "before",
    ) -> None:
        self.backbone = backbone if isinstance(backbone, Backbone) else load_backbone(backbone)
        if padding_side not in ("left", "right"):
            raise ValueError(f"unknown padding_side {padding_side!r}; valid choices: left, right")
        if max_length is not None and max_length < 1:
            raise ValueError(f"max_length must be positive or None, got {max_length}")
        self.kind = self.backbone.kind
        if prompt_position not in PROMPT_POSITIONS:
            raise ValueError(f"unknown prompt_position {prompt_position!r}; valid choices: {', '.join(PROMPT_POSITIONS)}")
        if prompt_position == "after" and self.kind != "causal":
            raise ValueError("prompt_position 'after' applies to causal LMs only; valid choices for a masked LM: before")
        if position_quirk and self.kind != "masked":
            raise ValueError("position_quirk applies to masked LMs only (the original's RoBERTa layout)")
        self.verbalizer = tuple(verbalizer)
        self.max_length = max_length
        self.position_quirk = position_quirk
        self.suffix = suffix
        self.padding_side = padding_side
        self.prompt_position = prompt_position
        model = self.backbone.model
        self._embed: nn.Embedding = model.get_input_embeddings()
        self._out: nn.Module = model.get_output_embeddings()
        self._body: nn.Module = model.base_model
        self.verbalizer_ids = torch.tensor(verbalizer_token_ids(self.backbone, self.verbalizer))  # (2,)
        tok = self.backbone.tokenizer
        self.pad_id = int(tok.pad_token_id)
        embeddings = getattr(self._body, "embeddings", None)
        self._type_embed: nn.Embedding | None = getattr(embeddings, "token_type_embeddings", None)
        self._pos_offset = 0
        if self.kind == "masked" and self.backbone.family == "roberta" and not position_quirk:
            self._pos_offset = int(model.config.pad_token_id) + 1
        if self.kind == "masked":
            self._prefix = [self.backbone.mask_token_id]
            self._suffix_ids: list[int] = []
            start = tok.bos_token_id if tok.bos_token_id is not None else tok.cls_token_id
            self._empty = [int(start)]  # the original's prompt-only input "<s>" (no special tokens)
        else:
            self._prefix = []
            self._suffix_ids = tok(suffix, add_special_tokens=False)["input_ids"] if suffix else []
            self._empty = list(tok("", add_special_tokens=True)["input_ids"])

    # ------------------------------------------------------------------------------------- tokens

    @property
    def hidden_size(self) -> int:
        return self.backbone.hidden_size

    @property
    def device(self) -> torch.device:
        return self.backbone.device

    def compile_body(self) -> None:
        """Wrap the model body in ``torch.compile`` (dynamic shapes): faster on a GPU, same logits."""
        self._body = torch.compile(self._body, dynamic=True)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids that follow the prompt for each text (layout tokens included, prompt/mask excluded)."""
        if isinstance(texts, str):
            raise ValueError("texts must be a list of strings, not one string")
        enc = self.backbone.tokenizer(
            list(texts), add_special_tokens=True, truncation=self.max_length is not None, max_length=self.max_length
        )["input_ids"]
        return [list(ids) + self._suffix_ids for ids in enc]

    def prompt_offset(self) -> int:
        """Number of positions before P1 (1 for the mask token in the masked layout, else 0)."""
        return len(self._prefix)

    # ------------------------------------------------------------------------------------ batches

    def batch(self, texts: Sequence[str], prompts: torch.Tensor) -> dict[str, torch.Tensor]:
        """Model inputs for ``texts`` with one prompt each; ``prompts`` (B, L, d) -> see :meth:`batch_ids`."""
        return self.batch_ids(self.encode(texts), prompts)

    def prompt_only(self, prompts: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each prompt alone with the read-out (masked: ``[<mask>, P, <s>]``; causal: ``[P, <bos>?, suffix]``,
        or ``[<bos>?, P, suffix]`` with the prompt after the comment: an empty comment either way)."""
        return self.batch_ids([self._empty + self._suffix_ids] * prompts.shape[0], prompts)

    def batch_ids(self, ids: Sequence[Sequence[int]], prompts: torch.Tensor,
                  width: int | None = None) -> dict[str, torch.Tensor]:
        """Model inputs from pre-encoded token ids (:meth:`encode`) and prompts (B, L, d).

        ``width``: pad the token ids to this many columns (default: the longest row); a fixed width makes
        the batch's shape independent of which rows share it (:mod:`emolib.paper.batches`).

        Returns:
            ``inputs_embeds`` (B, T, d), ``attention_mask`` (B, T), ``position_ids`` (B, T) and
            ``readout`` (B,) long: the read-out position of each row. T = prefix + L + width.
        """
        if prompts.dim() != 3 or prompts.shape[0] != len(ids) or prompts.shape[2] != self.hidden_size:
            raise ValueError(
                f"prompts must have shape (B={len(ids)}, L, d={self.hidden_size}), got {tuple(prompts.shape)}"
            )
        device = self.device
        n_batch, n_prompt = prompts.shape[:2]
        lengths = torch.tensor([len(x) for x in ids], device=device)  # (B,)
        width = _check_width(width, int(lengths.max()) if n_batch else 0)
        tokens = torch.full((n_batch, len(self._prefix) + width), self.pad_id, dtype=torch.long, device=device)
        for row, seq in enumerate(ids):
            tokens[row, len(self._prefix): len(self._prefix) + len(seq)] = torch.as_tensor(seq, device=device)
        if self._prefix:
            tokens[:, : len(self._prefix)] = torch.as_tensor(self._prefix, device=device)
        embeds = self._embed(tokens)  # (B, prefix + width, d)
        soft = prompts.to(device=device, dtype=embeds.dtype)
        if self._type_embed is not None:  # the model adds E_type[0] everywhere; prompts get none
            soft = soft - self._type_embed.weight[0].to(embeds.dtype)
        k = len(self._prefix)
        if self.prompt_position == "after":
            x = self._insert_after(embeds, soft, lengths)  # (B, T, d), right-padded
        else:
            x = torch.cat([embeds[:, :k], soft, embeds[:, k:]], dim=1)  # (B, T, d), right-padded
        total = x.shape[1]
        n_real = lengths + k + n_prompt  # (B,)
        arange = torch.arange(total, device=device)
        real = arange[None, :] < n_real[:, None]  # (B, T)
        positions = torch.where(real, arange[None, :] + self._pos_offset, self._pad_position())
        readout = torch.zeros(n_batch, dtype=torch.long, device=device) if self.kind == "masked" else n_real - 1
        if self.padding_side == "left":
            shift = total - n_real  # (B,)
            source = (arange[None, :] - shift[:, None]) % total  # (B, T): new column j takes old column j - shift
            x = x.gather(1, source[:, :, None].expand(-1, -1, x.shape[2]))
            real = real.gather(1, source)
            positions = positions.gather(1, source)
            readout = readout + shift
        return {"inputs_embeds": x, "attention_mask": real.long(), "position_ids": positions, "readout": readout}

    def _insert_after(self, embeds: torch.Tensor, soft: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Row r: ``[text_r, P_r, suffix, pad...]`` from token embeddings (B, W, d) and prompts (B, L, d)."""
        width, n_prompt, n_suffix = embeds.shape[1], soft.shape[1], len(self._suffix_ids)
        start = (lengths - n_suffix)[:, None]  # (B, 1): the first prompt column (the text's length)
        col = torch.arange(width + n_prompt, device=embeds.device)[None, :]  # (1, T)
        is_prompt = (col >= start) & (col < start + n_prompt)  # (B, T)
        token_col = torch.where(col >= start + n_prompt, col - n_prompt, col).clamp(max=width - 1)  # (B, T)
        tokens = embeds.gather(1, token_col[:, :, None].expand(-1, -1, embeds.shape[2]))  # (B, T, d)
        slot = (col - start).clamp(0, n_prompt - 1)  # (B, T)
        prompt = soft.gather(1, slot[:, :, None].expand(-1, -1, soft.shape[2]))  # (B, T, d)
        return torch.where(is_prompt[:, :, None], prompt, tokens)

    def cached_path(self, ids: Sequence[int]) -> bool:
        """Whether :meth:`score` scores this row on the comment's KV cache (prompt after a non-empty comment)."""
        return self.prompt_position == "after" and len(ids) > len(self._suffix_ids)

    def score(self, ids: Sequence[Sequence[int]], prompts: torch.Tensor, width: int | None = None) -> torch.Tensor:
        """Verbalizer logits (B, 2) of pre-encoded ids (:meth:`encode`) with one prompt each, by the fastest
        exact path: with the prompt after the comment, the comment once without gradients, then the
        prompt and suffix on its KV cache; otherwise :meth:`logits` of :meth:`batch_ids`.

        ``width``: pad the ids to this many columns (see :meth:`batch_ids`); rows of one call should share
        :meth:`cached_path` (a row that cannot use the cache sends the whole batch down the other path).
        """
        if not all(self.cached_path(x) for x in ids):
            return self.logits(self.batch_ids(ids, prompts, width))
        device, n_suffix = self.device, len(self._suffix_ids)
        texts = [list(x[: len(x) - n_suffix]) for x in ids]
        lengths = torch.tensor([len(t) for t in texts], device=device)  # (B,)
        width = _check_width(width, max(len(x) for x in ids)) - n_suffix
        tokens = torch.full((len(texts), width), self.pad_id, dtype=torch.long, device=device)
        for row, seq in enumerate(texts):
            tokens[row, : len(seq)] = torch.as_tensor(seq, device=device)
        arange = torch.arange(width, device=device)
        text_mask = (arange[None, :] < lengths[:, None]).long()  # (B, W), right-padded
        backbone = self.backbone
        with torch.no_grad():  # the text's states do not depend on the prompt after it
            cache = backbone.cache_of(self._body(input_ids=tokens, attention_mask=text_mask,
                                                 position_ids=arange[None, :].expand(len(texts), -1), use_cache=True))
        suffix = self._embed(torch.as_tensor(self._suffix_ids, dtype=torch.long, device=device))  # (S, d)
        soft = prompts.to(device=device, dtype=suffix.dtype)  # (B, L, d)
        tail = torch.cat([soft, suffix[None].expand(len(texts), -1, -1)], dim=1)  # (B, L + S, d)
        n_tail = tail.shape[1]
        mask = torch.cat([text_mask, torch.ones(len(texts), n_tail, dtype=torch.long, device=device)], dim=1)
        positions = lengths[:, None] + torch.arange(n_tail, device=device)[None, :]  # (B, L + S)
        states = self._body(inputs_embeds=tail, attention_mask=mask, position_ids=positions, use_cache=False,
                            **{backbone.cache_argument: cache}).last_hidden_state  # (B, L + S, d)
        return self.head(states[:, -1])

    def _pad_position(self) -> int:
        return self._pos_offset - 1 if self._pos_offset > 0 else 0

    # ---------------------------------------------------------------------------------- forward

    def hidden(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Final hidden state at each row's read-out (B, d): the model body only, no LM head."""
        kwargs = {"inputs_embeds": batch["inputs_embeds"], "attention_mask": batch["attention_mask"]}
        if batch.get("position_ids") is not None:
            kwargs["position_ids"] = batch["position_ids"]
        if self._type_embed is not None:
            kwargs["token_type_ids"] = torch.zeros_like(batch["attention_mask"])
        if self.kind == "causal":
            kwargs["use_cache"] = False
        states = self._body(**kwargs).last_hidden_state  # (B, T, d)
        rows = torch.arange(states.shape[0], device=states.device)
        return states[rows, batch["readout"].to(states.device)]

    def head(self, hidden: torch.Tensor) -> torch.Tensor:
        """Verbalizer logits (B, 2) from read-out hidden states (B, d): two LM-head rows only."""
        model = self.backbone.model
        x = hidden
        if self.kind == "masked":
            if self.backbone.family == "roberta":
                from transformers.activations import gelu

                lm = model.lm_head
                x = lm.layer_norm(gelu(lm.dense(x)))
            else:
                x = model.cls.predictions.transform(x)
        ids = self.verbalizer_ids.to(x.device)
        weight = self._out.weight[ids]  # (2, d)
        logits = x @ weight.T.to(x.dtype)
        bias = getattr(self._out, "bias", None)
        if bias is not None:
            logits = logits + bias[ids].to(logits.dtype)
        return logits

    def logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Verbalizer logits (B, 2) at the read-out (class 0 = not the emotion, class 1 = the emotion)."""
        return self.head(self.hidden(batch))


def _check_width(width: int | None, longest: int) -> int:
    """``width`` (or ``longest`` if None), checked to hold the longest row."""
    if longest == 0:
        raise ValueError("every input needs at least one token after the prompt")
    if width is None:
        return longest
    if width < longest:
        raise ValueError(f"width {width} is shorter than the longest row ({longest} tokens)")
    return int(width)
