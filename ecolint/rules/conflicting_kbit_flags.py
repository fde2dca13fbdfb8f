from __future__ import annotations

import libcst as cst

from ecolint.analysis.flow import Keyword
from ecolint.analysis.quantization import quantization_requests
from ecolint.rule import Rule

ERROR = "load_in_4bit and load_in_8bit are both True, but only one can be used at the same time"


class ConflictingKbitFlags(Rule):
    """
    ## What it does
    Flags a bitsandbytes configuration with both `load_in_4bit` and `load_in_8bit` on:
    a `BitsAndBytesConfig(...)`, a `quantization_config` dict, or the dict unpacked into
    either, built at once or step by step. One flag must be true and the other true or
    a runtime value; two runtime values (`load_in_4bit=args.bits == 4`) are not flagged,
    nor are flags set in different branches of an `if`.

    ## Why is this bad?
    `BitsAndBytesConfig` raises `ValueError: load_in_4bit and load_in_8bit are both
    True, but only one can be used at the same time` when it is built (transformers
    `utils/quantization_config.py`), so the script stops before the model loads.

    ## Example
    ```python
    from transformers import BitsAndBytesConfig

    config = BitsAndBytesConfig(load_in_4bit=True, load_in_8bit=True)
    ```

    ## Use instead
    ```python
    from transformers import BitsAndBytesConfig

    config = BitsAndBytesConfig(load_in_4bit=True)
    ```

    ## Fix safety
    No fix: which of the two modes was meant is the author's choice.

    ## References
    - transformers `BitsAndBytesConfig.__init__`
    """

    code = "ECO109"
    name = "conflicting-kbit-flags"
    summary = "`load_in_4bit` and `load_in_8bit` both true in one configuration: a `ValueError`"
    triggers = ("load_in_4bit",)
    requires = ("load_in_8bit",)
    gate = "bitsandbytes_config"
    context_words = ("load_in_8bit",)  # the other flag may be set in another function

    def visit_Call(self, node: cst.Call) -> None:
        for request in quantization_requests(self.flow, node):
            if request.origin != "config":
                continue  # bare flags given to `from_pretrained` are ECO105's TypeError first
            four, eight = (request.keywords.get(name) for name in ("load_in_4bit", "load_in_8bit"))
            if four is None or eight is None or not self._both_on(four, eight):
                continue
            where = (
                node
                if four.container is eight.container
                else max((four, eight), key=lambda kw: self.flow.order(self.flow.statement(kw.node))).node
            )
            self.report(where, f"`load_in_4bit` and `load_in_8bit` are both on: `BitsAndBytesConfig` raises ValueError: {ERROR}")

    def _both_on(self, four: Keyword, eight: Keyword) -> bool:
        values = [self.flow.constant(kw.value) for kw in (four, eight)]
        certain = [not v.runtime and v.known == (True,) for v in values]
        if not any(certain) or not all(v.may_be_truthy() for v in values):
            return False
        # Set together: in one call or dict, or both unconditionally.
        return four.container is eight.container or not (self.flow.conditional(four.node) or self.flow.conditional(eight.node))
