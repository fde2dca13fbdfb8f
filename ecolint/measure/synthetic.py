"""Random-weight checkpoints built from a model's config, with planted activation outliers.

Real checkpoints have a few hidden dimensions with large activations (LLM.int8()'s emergent
outlier features); random weights do not, which hides most of the INT8 decomposition cost
(+165% instead of +303% at 1.5B on the H200). So six hidden dimensions of every norm weight
are set to 25.0, as in the H200 evidence. Run as `python -m ecolint.measure.synthetic`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ecolint.measure import MeasureError
from ecolint.analysis.models import cached_config, local_config

OUTLIER_VALUE = 25.0
OUTLIER_DIMS = 6
_DONE = "ecolint-synthetic.json"


@functools.lru_cache(maxsize=1)
def _table() -> dict[str, Any]:
    return json.loads((Path(__file__).parent.parent / "data" / "architectures.json").read_text(encoding="utf-8"))


def shipped_config(model_id: str) -> dict[str, Any] | None:
    """The config ecolint ships for a checkpoint of its size table (`architectures.json`), if any.

    The file maps each checkpoint to a shape (`checkpoints`), each shape to config.json fields
    (`shapes`). A vision-language checkpoint maps to its language model, which is all that
    text generation runs; `encoders_billions` records what that leaves out.
    """
    table = _table()
    checkpoints = {name.lower(): shape for name, shape in table["checkpoints"].items()}
    shape = checkpoints.get(model_id.strip().lower())
    return dict(table["shapes"][shape]) if shape else None


def encoders_billions(model_id: str) -> float:
    """Billions of parameters of a multimodal checkpoint that its shipped config leaves out (its vision or audio encoders)."""
    found = {name.lower(): size for name, size in _table().get("encoders_billions", {}).items()}
    return float(found.get(model_id.strip().lower(), 0.0))


def config_for(model_id: str, search_dirs: Sequence[Path] = ()) -> dict[str, Any] | None:
    """The model's config: a local path's or the Hugging Face cache's config.json, else ecolint's table."""
    found = local_config(model_id, search_dirs) or cached_config(model_id)
    if found is not None:
        return json.loads(found.read_text(encoding="utf-8"))
    return shipped_config(model_id)


def cache_root() -> Path:
    return Path(os.environ.get("ECOLINT_CACHE_DIR", Path.home() / ".cache" / "ecolint")) / "synthetic"


def ensure_checkpoint(model_id: str, config: dict[str, Any], device: str, timeout_s: float) -> Path:
    """A saved random-weight checkpoint for this config, built once in a subprocess."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
    target = cache_root() / f"{model_id.replace('/', '--')}-{digest}"
    if (target / _DONE).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    config_file = target.parent / f".{target.name}.config.json"
    config_file.write_text(json.dumps(config), encoding="utf-8")
    command = [sys.executable, "-m", "ecolint.measure.synthetic", str(config_file), str(target), device]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise MeasureError(f"building random weights for {model_id} took over {timeout_s:.0f} s") from None
    finally:
        config_file.unlink(missing_ok=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise MeasureError(f"could not build random weights for {model_id}: {last}")
    return target


def plant_outliers(model: Any, count: int = OUTLIER_DIMS, value: float = OUTLIER_VALUE) -> int:
    """Set `count` hidden dimensions of every norm weight to `value`; returns how many norms."""
    import torch

    planted = 0
    config = model.config
    hidden = getattr(getattr(config, "text_config", None) or config, "hidden_size", None) or getattr(config, "d_model", None)
    if hidden is None:
        return 0
    dims = torch.randperm(hidden, generator=torch.Generator().manual_seed(0))[:count]
    with torch.no_grad():
        for module in model.modules():
            weight = getattr(module, "weight", None)
            if "Norm" in type(module).__name__ and weight is not None and weight.shape == (hidden,):
                weight[dims.to(weight.device)] = value
                planted += 1
    return planted


def model_class(config: dict[str, Any]) -> Any:
    """The class a config names in `architectures` (a causal LM, a vision-language or encoder-decoder model), else causal LM."""
    import transformers

    for name in config.get("architectures") or []:
        found = getattr(transformers, name, None)
        if found is not None and hasattr(found, "generate"):
            return found
    return transformers.AutoModelForCausalLM


def build(config: dict[str, Any], target: Path, device: str) -> None:
    import torch
    import transformers

    settings = dict(config)
    model_type = settings.pop("model_type")
    hf_config = transformers.AutoConfig.for_model(model_type, **settings)
    dtype = torch.float16 if device == "cuda" else torch.float32
    torch.manual_seed(0)
    cls = model_class(config)
    with torch.device(device):
        if cls is transformers.AutoModelForCausalLM:
            model = cls.from_config(hf_config, dtype=dtype)
        else:
            model = cls._from_config(hf_config, dtype=dtype)
    planted = plant_outliers(model)
    staging = target.with_name(target.name + ".partial")
    model.save_pretrained(staging)
    (staging / _DONE).write_text(json.dumps({"outlier_norms": planted, "outlier_value": OUTLIER_VALUE}), encoding="utf-8")
    os.replace(staging, target)


if __name__ == "__main__":
    build(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8")), Path(sys.argv[2]), sys.argv[3])
