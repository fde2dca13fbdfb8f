"""`ecolint check --measure`: run each finding's flagged and fixed variant on the GPU.

Imported only in that mode; torch, transformers, bitsandbytes and pynvml are imported
only by the worker subprocesses (`worker.py`, `synthetic.py`), never by the linter.
"""


class MeasureError(Exception):
    """Measuring cannot start (no GPU, no NVML, missing extra); one line for users."""
