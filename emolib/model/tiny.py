"""Tiny random-weight models of each supported family, built in-process (tests and demos).

They need no download: the config is small and the tokenizer is a word-level tokenizer over the
most frequent words of GoEmotions' dev split, plus the verbalizer words. Wrap one into a
:class:`~emolib.model.backbones.Backbone` with ``tiny_backbone(family)`` or ``load_backbone("tiny-gpt2")``.

Example:
    >>> model, tokenizer = tiny_model("gpt2")
    >>> type(model).__name__, model.config.n_layer
    ('GPT2LMHeadModel', 2)
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import Any

import torch


__all__ = ["TINY_FAMILIES", "tiny_model", "tiny_tokenizer"]

_SPECIALS = {
    "roberta": {"bos": "<s>", "pad": "<pad>", "eos": "</s>", "unk": "<unk>", "mask": "<mask>"},
    "bert": {"cls": "[CLS]", "pad": "[PAD]", "sep": "[SEP]", "unk": "[UNK]", "mask": "[MASK]"},
    "gpt2": {"eos": "<|endoftext|>"},
    "llama": {"unk": "<unk>", "bos": "<s>", "eos": "</s>"},
}
#: The families tiny models exist for (the supported families of :mod:`emolib.model.backbones`).
TINY_FAMILIES = tuple(_SPECIALS)
_EXTRA_WORDS = ("negative", "positive", "yes", "no", "good", "bad", "happy", "sad", "calm", "excited")


@lru_cache(maxsize=1)
def _vocabulary(size: int = 1500) -> tuple[str, ...]:
    from emolib.data import goemotions_frame

    counts = Counter(w for text in goemotions_frame("dev")["text"] for w in re.findall(r"\w+|[^\w\s]", text.lower()))
    words = [w for w, _ in counts.most_common(size)]
    return tuple(dict.fromkeys(list(_EXTRA_WORDS) + words))


def tiny_tokenizer(family: str):
    """A word-level ``PreTrainedTokenizerFast`` with ``family``'s special tokens and template."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = _SPECIALS[family]
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(specials.values()))}
    for word in _vocabulary():
        vocab.setdefault(word, len(vocab))
    unk = specials.get("unk", specials.get("eos"))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=unk))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    if family == "roberta":
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>", special_tokens=[("<s>", vocab["<s>"]), ("</s>", vocab["</s>"])]
        )
    elif family == "bert":
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
        )
    elif family == "llama":
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", vocab["<s>"])])
    kwargs = {f"{k}_token": v for k, v in specials.items()}
    if family in ("gpt2", "llama"):
        kwargs["pad_token"] = specials["eos"]
    return PreTrainedTokenizerFast(tokenizer_object=tok, **kwargs)


def tiny_model(family: str = "roberta", seed: int = 0, n_layers: int = 2, hidden: int = 32,
               max_positions: int = 160) -> tuple[Any, Any]:
    """A tiny random ``(model, tokenizer)`` of ``family`` (``roberta``, ``bert``, ``gpt2`` or ``llama``), seeded.

    Dropout is set as in the full models (0.1 for BERT-style and GPT-2 models), so train-mode
    behaviour can be tested.
    """
    from transformers import (
        BertConfig,
        BertForMaskedLM,
        GPT2Config,
        GPT2LMHeadModel,
        LlamaConfig,
        LlamaForCausalLM,
        RobertaConfig,
        RobertaForMaskedLM,
    )

    if family not in TINY_FAMILIES:
        raise ValueError(f"unknown family {family!r}; valid choices: {', '.join(TINY_FAMILIES)}")
    tokenizer = tiny_tokenizer(family)
    vocab = len(tokenizer)
    torch.manual_seed(seed)
    common = dict(vocab_size=vocab)
    if family == "roberta":
        config = RobertaConfig(
            **common, hidden_size=hidden, num_hidden_layers=n_layers, num_attention_heads=4,
            intermediate_size=4 * hidden, max_position_embeddings=max_positions, pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        )  # fmt: skip
        model = RobertaForMaskedLM(config)
    elif family == "bert":
        config = BertConfig(
            **common, hidden_size=hidden, num_hidden_layers=n_layers, num_attention_heads=4,
            intermediate_size=4 * hidden, max_position_embeddings=max_positions, pad_token_id=tokenizer.pad_token_id,
        )  # fmt: skip
        model = BertForMaskedLM(config)
    elif family == "gpt2":
        config = GPT2Config(
            **common, n_embd=hidden, n_layer=n_layers, n_head=4, n_positions=max_positions,
            bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
        )  # fmt: skip
        model = GPT2LMHeadModel(config)
    else:
        config = LlamaConfig(
            **common, hidden_size=hidden, num_hidden_layers=n_layers, num_attention_heads=4,
            num_key_value_heads=2, intermediate_size=3 * hidden, max_position_embeddings=max_positions,
            bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True,
        )  # fmt: skip
        model = LlamaForCausalLM(config)
    model.config._name_or_path = f"tiny-{family}"
    return model, tokenizer
