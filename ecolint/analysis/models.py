"""Model id → parameter count, from the best source there is, or None when unknown.

Tried in order: the project's `[tool.ecolint.models]`; a `config.json` at a local path
or in the local Hugging Face cache (parameters counted from the architecture fields,
no torch needed); ecolint's table of popular checkpoints; the name itself, minding
names that lie (`gpt2`, `phi-2`, `Phi-3-mini-4k`, `gemma-2-2b`, `*-bnb-4bit`, date codes).
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ModelSize:
    billions: float
    source: str  # where the number came from, for messages


# Architectures whose MLP has three matrices (gate, up, down) rather than two.
_GATED_MLP = frozenset(
    {
        "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "gemma", "gemma2",
        "gemma3_text", "phi3", "phimoe", "olmo", "olmo2", "stablelm", "deepseek", "deepseek_v2",
        "deepseek_v3", "internlm2", "cohere", "granite", "smollm3", "exaone", "yi",
    }
)  # fmt: skip
# Architectures that tie the output head to the embeddings unless config.json says otherwise.
_TIED_BY_DEFAULT = frozenset({"gpt2", "gpt_neo", "opt", "bloom", "gemma", "gemma2", "gemma3_text", "t5", "mt5", "falcon"})
# Architectures with learned absolute position embeddings.
_LEARNED_POSITIONS = frozenset({"gpt2", "gpt_neo", "opt"})


def _first(config: Mapping[str, Any], *keys: str) -> Any:
    return next((config[k] for k in keys if isinstance(config.get(k), (int, float)) and not isinstance(config.get(k), bool)), None)


def _t5_parameters(config: Mapping[str, Any]) -> int | None:
    d, ff, layers, heads, kv, vocab = (_first(config, k) for k in ("d_model", "d_ff", "num_layers", "num_heads", "d_kv", "vocab_size"))
    if None in (d, ff, layers, heads, kv, vocab):
        return None
    decoder_layers = _first(config, "num_decoder_layers") or layers
    matrices = 3 if str(config.get("feed_forward_proj", "")).startswith("gated") else 2
    attention = 4 * d * heads * kv
    encoder = layers * (attention + matrices * d * ff + 2 * d)
    decoder = decoder_layers * (2 * attention + matrices * d * ff + 3 * d)
    head = 0 if config.get("tie_word_embeddings", True) else vocab * d
    return vocab * d + head + encoder + decoder + 2 * d


def _vision_parameters(config: Mapping[str, Any]) -> int | None:
    """A ViT-style vision tower: patch embedding, position embeddings, encoder layers."""
    hidden, layers, intermediate = (_first(config, k) for k in ("hidden_size", "num_hidden_layers", "intermediate_size"))
    patch, image = _first(config, "patch_size") or 14, _first(config, "image_size") or 224
    if None in (hidden, layers, intermediate):
        return None
    channels = _first(config, "num_channels") or 3
    layer = 4 * hidden * hidden + 2 * hidden * intermediate + 9 * hidden + intermediate
    return channels * patch * patch * hidden + (image // patch) ** 2 * hidden + layers * layer + 2 * hidden


def _multimodal_parameters(text_config: Mapping[str, Any], vision_config: Any) -> int | None:
    """A vision-language model: its language model, its vision tower, and a projector between them.

    Both parts must be countable from the fields config.json spells out (a `text_config`
    that leaves its sizes to the architecture's defaults is not): otherwise None.
    """
    text = parameters_from_config(text_config)
    vision = _vision_parameters(vision_config) if isinstance(vision_config, Mapping) else None
    if text is None or vision is None:
        return None
    projector = 2 * _first(vision_config, "hidden_size") * _first(text_config, "hidden_size", "d_model")
    return text + vision + projector


def parameters_from_config(config: Mapping[str, Any]) -> int | None:
    """Count parameters from a config.json's architecture fields; None if it cannot tell."""
    text_config = config.get("text_config")
    if isinstance(text_config, Mapping) and "hidden_size" not in config:
        return _multimodal_parameters(text_config, config.get("vision_config"))
    model_type = str(config.get("model_type", ""))
    if model_type in ("t5", "mt5", "umt5"):
        return _t5_parameters(config)
    hidden = _first(config, "hidden_size", "n_embd", "d_model")
    layers = _first(config, "num_hidden_layers", "n_layer", "num_layers")
    vocab = _first(config, "vocab_size")
    heads = _first(config, "num_attention_heads", "n_head")
    if None in (hidden, layers, vocab, heads):
        return None
    kv_heads = _first(config, "num_key_value_heads", "num_kv_heads") or (1 if config.get("multi_query") else heads)
    head_dim = _first(config, "head_dim") or hidden // heads
    intermediate = _first(config, "intermediate_size", "n_inner", "ffn_dim") or 4 * hidden
    matrices = 3 if model_type in _GATED_MLP else 2
    attention = 2 * hidden * heads * head_dim + 2 * hidden * kv_heads * head_dim
    experts = _first(config, "num_local_experts", "num_experts", "n_routed_experts")
    if experts:
        expert_size = _first(config, "moe_intermediate_size") or intermediate
        shared = (_first(config, "n_shared_experts") or 0) * expert_size + (_first(config, "shared_expert_intermediate_size") or 0)
        mlp = matrices * hidden * (experts * expert_size + shared) + hidden * experts
    else:
        mlp = matrices * hidden * intermediate
    tied = config.get("tie_word_embeddings", model_type in _TIED_BY_DEFAULT)
    total = vocab * hidden * (1 if tied else 2) + layers * (attention + mlp + 2 * hidden) + hidden
    if model_type in _LEARNED_POSITIONS:
        total += (_first(config, "n_positions", "max_position_embeddings") or 0) * hidden
    return int(total)


@functools.lru_cache(maxsize=1)
def _table() -> dict[str, float]:
    data = json.loads((Path(__file__).parent.parent / "data" / "model_sizes.json").read_text(encoding="utf-8"))
    return {name.lower(): size for name, size in data["billions_of_parameters"].items()}


@functools.lru_cache(maxsize=1)
def _table_by_basename() -> dict[str, float]:
    """Checkpoints by name without the organisation, where that name is unambiguous."""
    found: dict[str, set[float]] = {}
    for name, size in _table().items():
        found.setdefault(name.rsplit("/", 1)[-1], set()).add(size)
    return {name: sizes.pop() for name, sizes in found.items() if len(sizes) == 1}


# Suffixes of re-published checkpoints that do not change the parameter count.
_REPUBLISHED = re.compile(r"(-bnb)?-(4|8)bit$|-(awq|gptq|gguf|fp8|int4|int8)$")


def is_prequantized(model_id: str) -> bool:
    """A checkpoint re-published already quantized (`...-bnb-4bit`, `...-AWQ`)."""
    return bool(_REPUBLISHED.search(model_id.strip().lower()))


def size_from_table(model_id: str) -> float | None:
    key = model_id.strip().lower()
    base = _REPUBLISHED.sub("", key.rsplit("/", 1)[-1])
    return _table().get(key, _table_by_basename().get(base))


_EDGE = r"(?<![A-Za-z0-9.])", r"(?![A-Za-z0-9])"
_PLAIN = re.compile(_EDGE[0] + r"(\d+)(?:[._](\d+))?([bBmM])" + _EDGE[1])  # 7b, 1.5B, 1_6b, 350m
_DECIMAL_AFTER_UNIT = re.compile(_EDGE[0] + r"(\d+)[bB](\d)" + _EDGE[1])  # bloom-7b1
_EXPERTS = re.compile(_EDGE[0] + r"(\d+)x(\d+(?:\.\d+)?)([bB])" + _EDGE[1])  # 8x7B, counted as total


def size_from_name(model_id: str) -> float | None:
    """Billions of parameters stated in a checkpoint's name, or None if it states none clearly.

    Only a number directly followed by B or M counts: `phi-2`, `4k` context, `4bit`,
    `A3B` (active parameters) and date codes such as `2407` say nothing about size.
    """
    name = model_id.rsplit("/", 1)[-1]
    sizes = set()
    for match in _EXPERTS.finditer(name):
        sizes.add(int(match.group(1)) * float(match.group(2)))
    name = _EXPERTS.sub(" ", name)
    for match in _DECIMAL_AFTER_UNIT.finditer(name):
        sizes.add(float(f"{match.group(1)}.{match.group(2)}"))
    for match in _PLAIN.finditer(name):
        value = float(f"{match.group(1)}.{match.group(2) or 0}")
        sizes.add(value / 1000 if match.group(3) in "mM" else value)
    return sizes.pop() if len(sizes) == 1 else None


def hub_cache_dirs() -> list[Path]:
    """Where the Hugging Face hub cache may be, in the order huggingface_hub looks."""
    env = os.environ
    candidates = [env.get("HF_HUB_CACHE"), env.get("HUGGINGFACE_HUB_CACHE")]
    if env.get("HF_HOME"):
        candidates.append(str(Path(env["HF_HOME"]) / "hub"))
    candidates.append(str(Path(env.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "huggingface" / "hub"))
    return [Path(c) for c in candidates if c]


def cached_config(model_id: str) -> Path | None:
    """The config.json of `model_id` in the local Hugging Face cache, if it is there."""
    if model_id.count("/") > 1 or not re.fullmatch(r"[\w.\-/]+", model_id):
        return None
    for cache in hub_cache_dirs():
        snapshots = cache / f"models--{model_id.replace('/', '--')}" / "snapshots"
        if not snapshots.is_dir():
            continue
        ref = cache / f"models--{model_id.replace('/', '--')}" / "refs" / "main"
        preferred = [snapshots / ref.read_text().strip()] if ref.is_file() else []
        for snapshot in preferred + sorted(snapshots.iterdir()):
            if (snapshot / "config.json").is_file():
                return snapshot / "config.json"
    return None


def local_config(model_id: str, search_dirs: Sequence[Path]) -> Path | None:
    """The config.json of a model id that is a local path (absolute, or under a search dir)."""
    path = Path(model_id).expanduser()
    candidates = [path] if path.is_absolute() else [d / path for d in search_dirs]
    return next((c / "config.json" for c in candidates if (c / "config.json").is_file()), None)


def _count_config(path: Path) -> float | None:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    count = parameters_from_config(config) if isinstance(config, dict) else None
    return count / 1e9 if count else None


def model_size(model_id: str, project: Mapping[str, float] | None = None, search_dirs: Sequence[Path] = ()) -> ModelSize | None:
    """The size of `model_id` and where it came from; None when no source knows it."""
    for name, size in (project or {}).items():
        if name.lower() == model_id.lower():
            return ModelSize(size, "[tool.ecolint.models]")
    local = local_config(model_id, search_dirs)
    if local is not None:
        size = _count_config(local)
        return ModelSize(size, f"its config.json at {local.parent}") if size else None
    cached = cached_config(model_id)
    if cached is not None:
        size = _count_config(cached)
        if size:
            return ModelSize(size, "its config.json in the Hugging Face cache")
    size = size_from_table(model_id)
    if size is not None:
        return ModelSize(size, "ecolint's table of checkpoints")
    size = size_from_name(model_id)
    if size is not None:
        return ModelSize(size, "its name")
    return None
