"""Tiny models for attack tests, all built here: a byte-level BPE tokenizer trained on a
few sentences, a 2-layer Llama on top of it, and a sentence encoder on the tiny BERT."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from highstakes.models.classifier import Classifier
from highstakes.models.generator import CausalLM
from tests.conftest import HURT, SAFE

CORPUS = [
    "The knight rode into the valley at dawn and his horse was tired.",
    "The dragon waited by the river and the wind was cold.",
    "She cut her hand on the broken glass and it bled.",
    "He walked home in the rain and laughed at the joke.",
    *[f"Tom {t}." for t in HURT + SAFE],
] * 20
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)


def build_tiny_lm(folder: Path) -> Path:
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="</s>"
    )
    fast.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_lm(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_lm(tiny_lm_dir: Path) -> CausalLM:
    return CausalLM.from_pretrained(str(tiny_lm_dir))


@pytest.fixture(scope="session")
def tiny_classifier(tiny_model_dir: Path) -> Classifier:
    return Classifier.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="session")
def tiny_encoder(tiny_model_dir: Path) -> object:
    from highstakes.attacks.constraints.similarity import SentenceEncoder

    return SentenceEncoder(str(tiny_model_dir))
