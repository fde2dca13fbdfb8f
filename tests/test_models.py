"""The size module: its table, the names that lie, config.json counting, and target-gpu."""

from __future__ import annotations

import json

import pytest

from conftest import write
from ecolint.analysis.hardware import gpu_memory_gib
from ecolint.analysis.models import _table, model_size, parameters_from_config, size_from_name

QWEN2_1_5B = {
    "model_type": "qwen2", "vocab_size": 151936, "hidden_size": 1536, "num_hidden_layers": 28,
    "intermediate_size": 8960, "num_attention_heads": 12, "num_key_value_heads": 2, "tie_word_embeddings": True,
}  # fmt: skip
MISTRAL_7B = {
    "model_type": "mistral", "vocab_size": 32000, "hidden_size": 4096, "num_hidden_layers": 32,
    "intermediate_size": 14336, "num_attention_heads": 32, "num_key_value_heads": 8,
}  # fmt: skip


def test_every_table_entry_is_answered_from_the_table():
    for name, billions in _table().items():
        size = model_size(name)
        assert size is not None and size.billions == billions and size.source == "ecolint's table of checkpoints", name


@pytest.mark.parametrize(
    ("model_id", "billions"),
    [
        ("gpt2", 0.124),  # no size in the name
        ("microsoft/phi-2", 2.78),  # "2" is a version
        ("microsoft/Phi-3-mini-4k-instruct", 3.82),  # "4k" is context
        ("google/gemma-2-2b-it", 2.61),  # "2" is the generation
        ("meta-llama/Llama-3.1-8B-Instruct", 8.03),  # "3.1" is a version
        ("unsloth/llama-3-8b-bnb-4bit", 8.0),  # "4bit" is the quantization
        ("unsloth/Phi-3-mini-4k-instruct-bnb-4bit", 3.82),
        ("mistralai/Mistral-Nemo-Instruct-2407", 12.2),  # "2407" is a date
        ("google/gemma-7b", 8.54),  # the table knows better than the name
        ("Qwen/Qwen3-30B-A3B", 30.5),  # A3B is the active count
        ("someone/Mixtral-8x7B-finetune", 56.0),  # experts counted as total
        ("someone/my-finetune-1.5B-v2", 1.5),
        ("someone/opt-350m-lora", 0.35),
        ("someone/stablelm-2-1_6b-chat", 1.6),  # "1_6b" is 1.6B, not 6B
        ("someone/bloom-7b1-sft", 7.1),
    ],
)
def test_sizes_of_names_that_lie(model_id, billions):
    size = model_size(model_id)
    assert size is not None and size.billions == pytest.approx(billions)


@pytest.mark.parametrize(
    "model_id", ["bert-base-uncased", "my-org/llama-2407", "someone/chat-4k", "org/model-4bit", "org/7b-and-13b-merge"]
)
def test_unknown_sizes_are_none(model_id):
    assert size_from_name(model_id) is None
    assert model_size(model_id) is None


def test_parameters_from_architecture_fields_match_the_evidence():
    assert parameters_from_config(QWEN2_1_5B) / 1e9 == pytest.approx(1.54, abs=0.01)
    assert parameters_from_config(MISTRAL_7B) / 1e9 == pytest.approx(7.24, abs=0.01)
    gpt2 = {"model_type": "gpt2", "vocab_size": 50257, "n_embd": 768, "n_layer": 12, "n_head": 12, "n_positions": 1024}
    assert parameters_from_config(gpt2) / 1e9 == pytest.approx(0.124, abs=0.002)
    assert parameters_from_config({"model_type": "llava", "text_config": {"hidden_size": 1}}) is None


def test_local_path_and_hub_cache_config(tmp_path, monkeypatch):
    write(tmp_path / "checkpoints" / "mine" / "config.json", json.dumps(QWEN2_1_5B))
    local = model_size("checkpoints/mine", search_dirs=[tmp_path])
    assert local is not None and local.billions == pytest.approx(1.54, abs=0.01) and "config.json at" in local.source

    cache = tmp_path / "hub"
    snapshot = cache / "models--acme--secret-model" / "snapshots" / "abc123"
    write(snapshot / "config.json", json.dumps(MISTRAL_7B))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    cached = model_size("acme/secret-model")
    assert cached is not None and cached.billions == pytest.approx(7.24, abs=0.01) and "Hugging Face cache" in cached.source


def test_project_sizes_come_first():
    size = model_size("Qwen/Qwen2-1.5B", {"qwen/qwen2-1.5b": 9.0})
    assert size is not None and size.billions == 9.0 and size.source == "[tool.ecolint.models]"


def test_gpu_names_as_people_write_them():
    assert gpu_memory_gib("H200") == gpu_memory_gib("nvidia h200") == 141
    assert gpu_memory_gib("RTX 4090") == gpu_memory_gib("rtx-4090") == 24
    assert gpu_memory_gib("A100-80GB") == 80 and gpu_memory_gib("T4") == 16
    assert gpu_memory_gib("TPU v5") is None


SEVEN_B_AND_1_5B = """\
from transformers import AutoModelForCausalLM, BitsAndBytesConfig
nf4 = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype="bfloat16")
big = AutoModelForCausalLM.from_pretrained("mistralai/Mistral-7B-v0.1", quantization_config=nf4)
small = AutoModelForCausalLM.from_pretrained("Qwen/Qwen2-1.5B", quantization_config=nf4)
private = AutoModelForCausalLM.from_pretrained("acme/internal-chat", quantization_config=nf4)
"""


@pytest.mark.parametrize(
    ("table", "flagged_rows"),
    [
        ("", [4]),
        ('target-gpu = "T4"', [4]),  # 7B in FP16 (13.5 GiB) does not fit half of 16 GiB
        ('target-gpu = "H200"', [3, 4]),  # it does fit half of 141 GiB
        ('target-gpu = "RTX 3060"', [4]),
        ('[tool.ecolint.models]\n"acme/internal-chat" = 2.0', [4, 5]),
    ],
)
def test_target_gpu_and_project_models_decide_small(cli, tmp_path, table, flagged_rows):
    write(tmp_path / "pyproject.toml", f'[tool.ecolint]\nselect = ["ECO102"]\n{table}\n')
    write(tmp_path / "m.py", SEVEN_B_AND_1_5B)
    result = cli("check", "--output-format", "concise", "m.py")
    assert [int(line.split(":")[1]) for line in result.stdout.splitlines()] == flagged_rows


def test_a_vision_language_config_counts_its_language_model_vision_tower_and_projector():
    # PaliGemma-3B's config.json: a Gemma-2B language model and a SigLIP-so400m vision tower (2.92 B in all).
    config = {
        "model_type": "paligemma",
        "text_config": {
            "model_type": "gemma", "hidden_size": 2048, "num_hidden_layers": 18, "intermediate_size": 16384,
            "num_attention_heads": 8, "num_key_value_heads": 1, "head_dim": 256, "vocab_size": 257216,
        },
        "vision_config": {"hidden_size": 1152, "num_hidden_layers": 27, "intermediate_size": 4304, "patch_size": 14, "image_size": 224},
    }  # fmt: skip
    assert abs(parameters_from_config(config) / 1e9 - 2.92) < 0.05
    without_tower = {key: value for key, value in config.items() if key != "vision_config"}
    assert parameters_from_config(without_tower) is None
