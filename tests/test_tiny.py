import pytest

from emolib.model.backbones import load_backbone
from emolib.model import tiny_backbone, tiny_tokenizer


@pytest.mark.parametrize("family,first,last", [("roberta", "<s>", "</s>"), ("bert", "[CLS]", "[SEP]"), ("llama", "<s>", "joy")])
def test_tokenizers_follow_the_family_templates(family, first, last):
    tok = tiny_tokenizer(family)
    tokens = tok.convert_ids_to_tokens(tok("I feel JOY")["input_ids"])
    assert tokens[0] == first and tokens[-1] == last
    assert "feel" in tokens  # lower-cased word-level vocabulary


def test_tiny_backbones_are_seeded_and_loadable_by_name():
    a, b, c = tiny_backbone("gpt2", seed=1), tiny_backbone("gpt2", seed=1), tiny_backbone("gpt2", seed=2)
    wa, wb, wc = (x.model.transformer.h[0].mlp.c_fc.weight for x in (a, b, c))
    assert (wa == wb).all() and not (wa == wc).all()
    named = load_backbone("tiny-bert")
    assert named.family == "bert" and named.name == "tiny-bert"
    with pytest.raises(ValueError, match="valid choices: tiny-roberta"):
        load_backbone("tiny-t5")
    with pytest.raises(ValueError, match="unknown family 't5'"):
        tiny_backbone("t5")
