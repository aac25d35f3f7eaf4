"""ChatTurns renders the prompt with the tools exactly as TRL does (``apply_chat_template(tools=schemas)``)."""

from __future__ import annotations

import pytest

from rlvr.env import CalculatorEnv, schemas_of
from rlvr.env.turns import ChatTurns

TEMPLATE = (
    "{% if tools %}<tools>{% for t in tools %}{{ t | tojson }}{% endfor %}</tools>{% endif %}"
    "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}<end>{% endfor %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}"
)


@pytest.fixture(scope="module")
def tokenizer():
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(["<user>What is 6 * 7?<end>"], trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<end>", "<pad>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<end>", pad_token="<pad>")
    fast.chat_template = TEMPLATE
    return fast


def test_prompt_renders_the_tool_schemas_once_as_trl_does(tokenizer):
    schemas = schemas_of(CalculatorEnv())
    ids = ChatTurns(tokenizer).prompt_ids(None, "What is 6 * 7?", schemas)
    text = tokenizer.decode(ids)
    trl = tokenizer.apply_chat_template([{"role": "user", "content": "What is 6 * 7?"}], tools=schemas,
                                        tokenize=False, add_generation_prompt=True)
    assert text == trl
    assert text.count('"type": "function"') == 1  # one entry, not a schema wrapped in another
    assert text.startswith('<tools>{"type": "function", "function": {"name": "calculate"')


def test_no_tools_offered_renders_no_tool_block(tokenizer):
    text = tokenizer.decode(ChatTurns(tokenizer).prompt_ids(None, "What is 6 * 7?", []))
    assert text == "<user>What is 6 * 7?<end><assistant>"
