"""`--measure`: the real orchestration end to end on a tiny model, on the CPU.

Where no GPU exists, only the energy reading is replaced (an estimate from elapsed time,
labelled as such in the table and the report); the subprocess workers, interleaved
pairs, statistics, quality check, synthetic weights and errors are the real ones.
The `gpu` tests run the same on an NVIDIA GPU (`pytest --gpu`).
"""

from __future__ import annotations

import json
import math

import pytest

from conftest import write
from ecolint.measure.stats import Run, paired_delta, summarize

LOOP = """\
from transformers import AutoModelForCausalLM, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("{model}")
model = AutoModelForCausalLM.from_pretrained("{model}")
answers = []
for prompt in prompts:
    inputs = tokenizer(prompt, return_tensors="pt")
    output_ids = model.generate(**inputs, max_new_tokens=8)
    answers.append(tokenizer.decode(output_ids[0], skip_special_tokens=True))
"""
TINY = {
    "model_type": "llama", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 512, "bos_token_id": 1, "eos_token_id": 2,
}  # fmt: skip
CPU = ["--measure", "--measure-device", "cpu", "--pairs", "3", "--min-seconds", "0.05"]


def test_paired_delta_is_the_geometric_mean_of_ratios_with_an_interval():
    flagged = [Run(100.0, 1.0, 1000, 1.0), Run(110.0, 1.0, 1000, 1.0), Run(90.0, 1.0, 1000, 1.0)]
    fixed = [Run(50.0, 1.0, 1000, 1.0), Run(55.0, 1.0, 1000, 1.0), Run(45.0, 1.0, 1000, 1.0)]
    delta = paired_delta(flagged, fixed)
    assert delta.percent == pytest.approx(-50.0)
    assert delta.ci95_low == pytest.approx(-50.0) and delta.ci95_high == pytest.approx(-50.0)
    assert delta.verdict == "saves"
    noisy = paired_delta(flagged, [Run(120.0, 1.0, 1000, 1.0), Run(80.0, 1.0, 1000, 1.0), Run(95.0, 1.0, 1000, 1.0)])
    assert noisy.verdict == "no detectable difference" and noisy.ci95_low < 0 < noisy.ci95_high
    summary = summarize(flagged)
    assert summary.joules_per_1k_tokens == 100.0 and summary.cv == pytest.approx(0.1)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers

    directory = tmp_path_factory.mktemp("models") / "tiny-llama"
    torch.manual_seed(0)
    config = transformers.LlamaConfig(**{k: v for k, v in TINY.items() if k != "model_type"})
    transformers.LlamaForCausalLM(config).save_pretrained(directory)
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, **{f"w{i}": i + 3 for i in range(61)}}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    tokenizer.save_pretrained(directory)
    return directory


def test_measure_end_to_end_on_a_local_model(cli, tmp_path, tiny_model):
    write(tmp_path / "loop.py", LOOP.format(model=tiny_model))
    result = cli("check", "--output-format", "concise", *CPU, "--measure-report", "report.json", "loop.py")
    assert result.exit_code == 1, result.output  # the static finding stands
    assert "ECO103" in result.stdout and "Δ energy [95% CI]" in result.stdout
    assert "energy read with: estimated-no-gpu" in result.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["schema_version"] == 2 and report["settings"]["pairs"] == 3
    assert set(report["libraries"]) >= {"torch", "transformers", "bitsandbytes"}
    (finding,) = report["findings"]
    assert finding["status"] == "measured" and finding["weights"] == "local path"
    assert finding["seconds"] > 0 and finding["weights_seconds"] >= 0
    assert finding["flagged"]["variant"]["batch"] == 1 and finding["fixed"]["variant"]["batch"] == 8
    for arm in ("flagged", "fixed"):
        assert len(finding[arm]["runs"]) == 3
        assert finding[arm]["median"]["joules_per_1k_tokens"] > 0 and finding[arm]["cv"] >= 0
        assert math.isfinite(finding[arm]["perplexity"])  # quality check with real weights
    # Time-based estimates on a shared CPU are noisy: check that the verdict follows the interval.
    low, high = finding["delta"]["ci95"]
    assert low <= finding["delta"]["percent"] <= high
    expected = "saves" if high < 0 else "costs" if low > 0 else "no detectable difference"
    assert finding["delta"]["verdict"] == expected


def test_synthetic_weights_come_from_the_cached_config_with_planted_outliers(cli, tmp_path, monkeypatch, tiny_model):
    pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    snapshot = tmp_path / "hub" / "models--acme--tiny-chat" / "snapshots" / "0123"
    write(snapshot / "config.json", json.dumps(TINY))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("ECOLINT_CACHE_DIR", str(tmp_path / "ecolint-cache"))
    write(tmp_path / "loop.py", LOOP.format(model="acme/tiny-chat"))

    without = cli("check", "--output-format", "concise", *CPU, "loop.py")
    assert "is not in the local Hugging Face cache" in without.stdout and "use --synthetic" in without.stdout

    result = cli("check", "--output-format", "concise", *CPU, "--synthetic", "--measure-report", "r.json", "loop.py")
    (finding,) = json.loads((tmp_path / "r.json").read_text())["findings"]
    assert finding["status"] == "measured", finding
    assert finding["weights"].startswith("synthetic") and finding["flagged"]["perplexity"] is None
    (checkpoint,) = (tmp_path / "ecolint-cache" / "synthetic").iterdir()
    model = transformers.AutoModelForCausalLM.from_pretrained(checkpoint)
    norms = [m.weight for m in model.modules() if "Norm" in type(m).__name__]
    assert norms and all(int((w == 25.0).sum()) == 6 for w in norms)
    assert result.exit_code == 1


def test_findings_that_cannot_be_measured_say_why(cli, tmp_path, tiny_model):
    write(
        tmp_path / "m.py",
        'import os\nfrom transformers import AutoModel\nm = AutoModel.from_pretrained(os.environ["M"], load_in_4bit=True)\n',
    )
    result = cli("check", "--output-format", "concise", *CPU, "--measure-report", "r.json", "m.py")
    lines = result.stdout
    assert "not measured: ECO105 m.py:3: not an energy finding" in lines
    assert "not measured: ECO104 m.py:3: the model id could not be resolved statically" in lines
    statuses = {f["code"]: f["status"] for f in json.loads((tmp_path / "r.json").read_text())["findings"]}
    assert statuses == {"ECO104": "not measured", "ECO105": "not measured"}


def test_quantized_variant_on_a_machine_without_cuda_is_a_reported_error(cli, tmp_path, tiny_model):
    write(
        tmp_path / "m.py",
        f"from transformers import AutoModelForCausalLM, BitsAndBytesConfig\n"
        f'c = BitsAndBytesConfig(load_in_8bit=True)\nm = AutoModelForCausalLM.from_pretrained("{tiny_model}", quantization_config=c)\n',
    )
    result = cli("check", "--output-format", "concise", *CPU, "m.py")
    assert "error: ECO101 m.py:2: bitsandbytes quantization needs a CUDA GPU" in result.stdout
    assert "Traceback" not in result.output


def test_without_gpu_or_extra_measure_is_one_line_and_static_findings_still_print(cli, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pynvml" else real(name, *a))
    write(tmp_path / "m.py", "from transformers import BitsAndBytesConfig\nc = BitsAndBytesConfig(load_in_8bit=True)\n")
    result = cli("check", "--output-format", "concise", "--measure", "m.py")
    assert result.exit_code == 2
    assert result.stdout.startswith("m.py:2:24: ECO101")
    (line,) = result.stderr.strip().splitlines()
    # The whole list, whatever else this machine lacks (the tests run without torch too).
    missing = ", ".join(n for n in ("torch", "transformers", "pynvml") if n == "pynvml" or real(n) is None)
    assert line == f'ecolint: error: --measure: the measure extra is not installed (missing {missing}): pip install "ecolint[measure]"'


@pytest.mark.gpu
def test_measure_on_the_gpu_with_synthetic_weights(cli, tmp_path):
    """On a GPU runner: ECO101 at the Qwen2-1.5B shape must show the fix saving energy."""
    write(
        tmp_path / "m.py",
        "from transformers import AutoModelForCausalLM, BitsAndBytesConfig\n"
        'c = BitsAndBytesConfig(load_in_8bit=True)\nm = AutoModelForCausalLM.from_pretrained("Qwen/Qwen2-1.5B", quantization_config=c)\n',
    )
    cli("check", "--measure", "--synthetic", "--pairs", "3", "--measure-report", "r.json", "m.py")
    (finding,) = json.loads((tmp_path / "r.json").read_text())["findings"]
    assert finding["status"] == "measured" and finding["energy_reading"].startswith("nvml")
    assert finding["delta"]["verdict"] == "saves"


class _FakeNvml:
    """Just enough of pynvml: a GPU whose driver lacks the total-energy counter."""

    class NVMLError(Exception):
        pass

    def __init__(self, counter: bool, power: bool = True) -> None:
        self.counter, self.power = counter, power

    def nvmlInit(self):
        pass

    def nvmlDeviceGetHandleByIndex(self, index):
        return "gpu0"

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        if not self.counter:
            raise self.NVMLError("Not Supported")
        return 1_000_000

    def nvmlDeviceGetPowerUsage(self, handle):
        if not self.power:
            raise self.NVMLError("Not Supported")
        return 150_000  # milliwatts


def test_without_the_energy_counter_sampled_power_is_used_and_labelled(monkeypatch):
    import sys
    import time

    from ecolint.measure import MeasureError, energy

    monkeypatch.setitem(sys.modules, "pynvml", _FakeNvml(counter=True))
    assert energy.gpu_meter().kind == "nvml-energy-counter"

    monkeypatch.setitem(sys.modules, "pynvml", _FakeNvml(counter=False))
    meter = energy.gpu_meter()
    assert meter.kind == "nvml-sampled-power"
    meter.start()
    time.sleep(0.2)
    assert meter.stop() == pytest.approx(150 * 0.2, rel=0.3)

    monkeypatch.setitem(sys.modules, "pynvml", _FakeNvml(counter=False, power=False))
    with pytest.raises(MeasureError, match="neither the energy counter nor power readings"):
        energy.gpu_meter()
