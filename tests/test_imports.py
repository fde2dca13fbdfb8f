"""A fix's imports land where LibCST's AddImportsVisitor puts them, without importing its codemod package."""

from __future__ import annotations

import pytest
import libcst as cst

from ecolint.fixing.fixes import ImportRequest
from ecolint.fixing.imports import add_imports

TORCH = ImportRequest("torch")
BNB = ImportRequest("transformers", "BitsAndBytesConfig")


@pytest.mark.parametrize(
    ("before", "requests", "after"),
    [
        ("import os\nx = 1\n", [TORCH], "import os\nimport torch\n\nx = 1\n"),
        ('"""Doc."""\nx = 1\n', [TORCH], '"""Doc."""\nimport torch\n\nx = 1\n'),
        ("import torch\nx = 1\n", [TORCH], "import torch\nx = 1\n"),
        ("import torch as th\nx = 1\n", [TORCH], "import torch as th\nimport torch\n\nx = 1\n"),
        ("from transformers import AutoModel\n", [BNB], "from transformers import BitsAndBytesConfig, AutoModel\n"),
        ("from transformers import *\n", [BNB], "from transformers import *\n"),
        (
            "x = 1\nfrom transformers import AutoModel\n",
            [BNB],
            "from transformers import BitsAndBytesConfig\n\nx = 1\nfrom transformers import AutoModel\n",
        ),
        (
            "import os\n# setup\nx = 1\n",
            [BNB, TORCH],
            "import os\nimport torch\nfrom transformers import BitsAndBytesConfig\n\n# setup\nx = 1\n",
        ),
    ],
)
def test_imports_are_added_once_after_the_leading_import_block(before, requests, after):
    assert add_imports(cst.parse_module(before), requests).code == after


def test_fixing_never_imports_libcst_codemod(tmp_path):
    import subprocess
    import sys

    (tmp_path / "m.py").write_text("from transformers import AutoModel\nm = AutoModel.from_pretrained('x', load_in_4bit=True)\n")
    code = (
        "import sys\nfrom ecolint.cli import main\n"
        f"sys.argv = ['ecolint', 'check', '--no-cache', '--output-format', 'json', {str(tmp_path / 'm.py')!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('codemod' if 'libcst.codemod' in sys.modules else 'no codemod')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert '"BitsAndBytesConfig' in out or "BitsAndBytesConfig" in out  # the fix's edits name the import it adds
    assert out.strip().splitlines()[-1] == "no codemod"
