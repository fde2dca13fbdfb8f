"""Memory of common GPUs, for deciding whether a model's FP16 weights fit with room to spare."""

from __future__ import annotations

import re

# GiB of device memory. Where a name covers several sizes, the bare name is the smaller one.
GPU_MEMORY_GIB = {
    "B200": 180,
    "H200": 141,
    "H100-NVL": 94,
    "H100": 80,
    "H100-80GB": 80,
    "H800": 80,
    "A100": 40,
    "A100-40GB": 40,
    "A100-80GB": 80,
    "A800": 80,
    "MI300X": 192,
    "L40S": 48,
    "L40": 48,
    "L4": 24,
    "A10": 24,
    "A10G": 24,
    "A6000": 48,
    "RTX A6000": 48,
    "RTX 6000 Ada": 48,
    "V100": 16,
    "V100-16GB": 16,
    "V100-32GB": 32,
    "T4": 16,
    "P100": 16,
    "RTX 5090": 32,
    "RTX 5080": 16,
    "RTX 4090": 24,
    "RTX 4090D": 24,
    "RTX 4080": 16,
    "RTX 4070": 12,
    "RTX 4060": 8,
    "RTX 3090": 24,
    "RTX 3080": 10,
    "RTX 3070": 8,
    "RTX 3060": 12,
}


def _key(name: str) -> str:
    return re.sub(r"[\s_-]+", "", name).upper().removeprefix("NVIDIA").removeprefix("GEFORCE")


_BY_KEY = {_key(name): gib for name, gib in GPU_MEMORY_GIB.items()}


def gpu_memory_gib(name: str) -> float | None:
    """GiB of memory of a GPU named as people write it ("H200", "rtx 4090", "A100-80GB")."""
    return _BY_KEY.get(_key(name))


def known_gpus() -> list[str]:
    return list(GPU_MEMORY_GIB)
