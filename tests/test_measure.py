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
CPU = ["--measure", "--measure-device", "cpu", "--pairs", "6", "--min-seconds", "0.05", "--max-seconds", "10"]


def test_paired_delta_is_the_median_of_log_ratios_with_a_signed_rank_interval():
    flagged = [Run(100.0 + i, 1.0, 1000, 1.0) for i in range(8)]
    fixed = [Run((100.0 + i) / 2, 1.0, 1000, 1.0) for i in range(8)]
    delta = paired_delta(flagged, fixed, "precision")
    assert delta.percent == pytest.approx(-50.0)
    assert delta.ci95_low == pytest.approx(-50.0) and delta.ci95_high == pytest.approx(-50.0)
    assert delta.verdict == "saves" and delta.pairs == 8 and delta.half_width == pytest.approx(0.0)
    ratios = [0.8, 1.2, 0.95, 1.05, 1.1, 0.9, 1.0, 0.97]
    noisy = paired_delta(flagged, [Run(a.joules * r, 1.0, 1000, 1.0) for a, r in zip(flagged, ratios)])
    assert noisy.verdict == "no detectable difference" and noisy.ci95_low < 0 < noisy.ci95_high
    # One pair caught by a slow episode moves the estimate little.
    episode = paired_delta(flagged, [Run(a.joules * (3.0 if i == 0 else 0.5), 1.0, 1000, 1.0) for i, a in enumerate(flagged)])
    assert episode.percent == pytest.approx(-50.0)
    summary = summarize(flagged)
    assert summary.joules_per_1k_tokens == pytest.approx(103.5) and summary.cv == pytest.approx(0.0234, abs=1e-3)


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
    assert report["schema_version"] == 3 and report["settings"]["min_pairs"] == 6
    assert set(report["libraries"]) >= {"torch", "transformers", "bitsandbytes"}
    (finding,) = report["findings"]
    assert finding["status"] == "measured" and finding["weights"] == "local path"
    assert finding["seconds"] > 0 and finding["weights_seconds"] >= 0
    assert finding["flagged"]["variant"]["batch"] == 1 and finding["fixed"]["variant"]["batch"] == 8
    workload = finding["workload"]
    assert (workload["new_tokens"], workload["new_tokens_from"], workload["prompt_tokens"]) == (8, "line 8", 64)
    shares = workload["shares_per_call"]  # whole calls, or shares of one: as long as a call lasts on this machine
    pairs = finding["delta"]["pairs"]
    assert pairs >= 6 and finding["delta"]["stopped"] in ("precision", "time", "pairs")
    for arm in ("flagged", "fixed"):
        windows = finding[arm]["windows"]
        batch, calls = finding[arm]["variant"]["batch"], finding[arm]["calls_per_window"]
        per_window = {w["tokens"] for w in windows}
        assert len(windows) == pairs and per_window <= ({8 * batch * calls} if shares == 1 else {4 * batch})
        assert all(w["cpu_seconds"] > 0 and w["at_seconds"] > 0 for w in windows)
        assert finding[arm]["median"]["joules_per_1k_tokens"] > 0 and finding[arm]["cv"] >= 0
        assert math.isfinite(finding[arm]["perplexity"])  # quality check with real weights
    # Time-based estimates on a shared CPU are noisy: check that the verdict follows the interval.
    low, high = finding["delta"]["ci95"]
    assert low <= finding["delta"]["percent"] <= high
    expected = "saves" if high < 0 else "costs" if low > 0 else "no detectable difference"
    assert finding["delta"]["verdict"] == expected


def test_both_variants_share_one_worker_and_pause_in_turn_inside_split_calls(tiny_model):
    """Shares of one call: each variant pauses mid-generation while the other runs, windows never overlap."""
    from ecolint.measure import MeasureError
    from ecolint.measure.runner import WorkerProcess
    from ecolint.measure.workloads import Variant

    worker = WorkerProcess()
    try:
        for arm, batch in ((0, 1), (1, 3)):
            load = {"command": "load", "arm": arm, "path": str(tiny_model), "variant": Variant(str(arm), batch=batch).as_json()}
            reply = worker.ask({**load, "device": "cpu", "prompt_tokens": 16, "new_tokens": 12, "weights_gib": 0})
            assert reply["new_tokens"] == 12
            assert worker.ask({"command": "plan", "arm": arm, "shares": 3, "calls": 1}) == {"ok": True, "shares": 3, "calls": 1}
        windows = [(arm, worker.ask({"command": "window", "arm": arm})) for _ in range(4) for arm in (0, 1)]
        # 12 tokens in 3 shares of 4, per sequence: arm 1 generates 3 sequences at once.
        assert [w["tokens"] for _, w in windows] == [4, 12] * 4
        edges = [(w["start"], w["end"]) for _, w in windows]
        assert all(end <= next_start for (_, end), (next_start, _) in zip(edges, edges[1:]))
        # A paused call is abandoned for any other command, which is answered; the worker goes on.
        assert math.isfinite(worker.ask({"command": "perplexity", "arm": 0, "text": "w1 w2 w3 w4 w5"})["perplexity"])
        assert worker.ask({"command": "window", "arm": 0})["tokens"] == 4
        with pytest.raises(MeasureError, match="no variant loaded as arm 2"):
            worker.ask({"command": "window", "arm": 2})
    finally:
        worker.close()
    assert worker.process.returncode == 0


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
    cli("check", "--measure", "--synthetic", "--measure-report", "r.json", "m.py")
    (finding,) = json.loads((tmp_path / "r.json").read_text())["findings"]
    assert finding["status"] == "measured" and finding["energy_reading"].startswith("nvml")
    assert finding["delta"]["verdict"] == "saves" and finding["delta"]["half_width"] <= 5 and finding["seconds"] <= 180


class _FakeNvml:
    """Just enough of pynvml: a GPU drawing 150 W whose energy counter moves every 100 ms, or has none."""

    class NVMLError(Exception):
        pass

    NVML_CLOCK_SM, NVML_TEMPERATURE_GPU = 1, 0

    def __init__(self, counter: bool, power: bool = True) -> None:
        import time

        self.counter, self.power, self.origin = counter, power, time.perf_counter()

    def nvmlInit(self):
        pass

    def nvmlDeviceGetHandleByIndex(self, index):
        return "gpu0"

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        import time

        if not self.counter:
            raise self.NVMLError("Not Supported")
        ticks = int((time.perf_counter() - self.origin) / 0.1)
        return 1_000_000 + ticks * 15_000  # millijoules: 150 W for each 100 ms tick

    def nvmlDeviceGetPowerUsage(self, handle):
        if not self.power:
            raise self.NVMLError("Not Supported")
        return 150_000  # milliwatts

    def nvmlDeviceGetClockInfo(self, handle, clock):
        return 1980

    def nvmlDeviceGetTemperature(self, handle, sensor):
        return 40


def test_the_counter_is_interpolated_between_its_ticks_and_sampled_power_is_the_labelled_fallback(monkeypatch):
    import sys
    import time

    from ecolint.measure import MeasureError, energy

    monkeypatch.setitem(sys.modules, "pynvml", _FakeNvml(counter=True))
    recorder = energy.gpu_recorder()
    assert recorder.kind == "nvml-energy-counter"
    time.sleep(0.25)
    start = time.perf_counter()
    time.sleep(0.33)
    end = time.perf_counter()
    # Read at its ticks, a 0.33 s window would count 45 or 60 J; interpolated, within a few percent of 49.5.
    assert recorder.energy_between(start, end) == pytest.approx(150 * (end - start), rel=0.04)
    assert recorder.gpu_state() == {"sm_clock_mhz": 1980, "temperature_c": 40}
    recorder.stop()

    monkeypatch.setitem(sys.modules, "pynvml", _FakeNvml(counter=False))
    recorder = energy.gpu_recorder()
    assert recorder.kind == "nvml-sampled-power"
    start = time.perf_counter()
    time.sleep(0.2)
    end = time.perf_counter()
    assert recorder.energy_between(start, end) == pytest.approx(150 * (end - start), rel=0.1)
    recorder.stop()

    monkeypatch.setitem(sys.modules, "pynvml", _FakeNvml(counter=False, power=False))
    with pytest.raises(MeasureError, match="neither the energy counter nor power readings"):
        energy.gpu_recorder()


def test_every_checkpoint_of_the_size_table_has_an_architecture_whose_size_matches():
    """`--synthetic` knows every model the size table knows (ecolint/data/architectures.json).

    An entry added to `model_sizes.json` needs `checkpoints[<id>] = <shape>` in
    architectures.json and, for a new shape, `shapes[<shape>]` (config.json's fields); a
    vision-language checkpoint maps to its language model's shape and records the rest
    (vision or audio encoders, projectors) in `encoders_billions[<id>]`.
    """
    import json
    from pathlib import Path

    from ecolint.analysis.models import parameters_from_config

    data = Path(__file__).resolve().parent.parent / "ecolint" / "data"
    sizes = json.loads((data / "model_sizes.json").read_text(encoding="utf-8"))["billions_of_parameters"]
    table = json.loads((data / "architectures.json").read_text(encoding="utf-8"))
    shapes, checkpoints, encoders = table["shapes"], table["checkpoints"], table.get("encoders_billions", {})
    assert sorted(checkpoints) == sorted(sizes), "architectures.json and model_sizes.json list different checkpoints"
    assert set(checkpoints.values()) <= set(shapes) and set(encoders) <= set(checkpoints)
    # Counted by parameters_from_config, a shape's size (head tied or not, plus what it leaves out) is the table's
    # within 10%; a few layouts that counter does not know are counted nowhere here (built on torch's meta device
    # they matched within 5% when recorded).
    uncounted = {"recurrent_gemma", "gemma3n_text", "bart", "xglm"}
    wrong = []
    for checkpoint, billions in sizes.items():
        config = shapes[checkpoints[checkpoint]]
        left_out = encoders.get(checkpoint, 0.0)
        assert 0 <= left_out < billions, checkpoint
        if config["model_type"] in uncounted:
            continue
        counts = [parameters_from_config({**config, "tie_word_embeddings": tied}) for tied in (True, False)]
        assert None not in counts, checkpoint
        if min(abs(n / 1e9 + left_out - billions) for n in counts) > 0.1 * billions:
            wrong.append((checkpoint, [round(n / 1e9 + left_out, 2) for n in counts], billions))
    assert not wrong


def test_every_shape_is_a_config_transformers_builds():
    transformers = pytest.importorskip("transformers")
    import json
    from pathlib import Path

    if int(transformers.__version__.split(".")[0]) < 5:
        pytest.skip("the shapes are checked against transformers 5")
    path = Path(__file__).resolve().parent.parent / "ecolint" / "data" / "architectures.json"
    shapes = json.loads(path.read_text(encoding="utf-8"))["shapes"]
    names = set(dir(transformers))  # the lazy module lists its classes without importing them
    for name, config in shapes.items():
        settings = dict(config)
        built = transformers.AutoConfig.for_model(settings.pop("model_type"), **settings)
        assert config["architectures"][0] in names, name
        assert built.model_type == config["model_type"], name


def test_the_workload_takes_max_new_tokens_from_the_code(tmp_path):
    from ecolint.diagnostics import Finding, Location
    from ecolint.measure.workloads import workload_for

    def finding(source: str, row: int, column: int, code: str = "ECO103") -> Finding:
        path = tmp_path / "m.py"
        path.write_text(source, encoding="utf-8")
        data = {"model": "Qwen/Qwen2-1.5B", "batch": 1, "fixed_batch": 8, "quantization": {"load_in_4bit": True}}
        return Finding(code, "x", "", str(path), Location(row, column), Location(row, column), data=data)

    two = "a = m.generate(x, max_new_tokens=32)\nb = m.generate(y, max_new_tokens=128)\n"
    own = workload_for(finding(two, 2, 5))
    assert (own.new_tokens, own.new_tokens_from) == (128, "line 2")  # the finding's own call
    elsewhere = workload_for(finding(two, 9, 1, "ECO104"))
    assert (elsewhere.new_tokens, elsewhere.new_tokens_from) == (64, "default")  # the file's calls disagree
    agreed = workload_for(finding("c = load()\nm.generate(x, max_new_tokens=16)\n", 1, 5, "ECO104"))
    assert (agreed.new_tokens, agreed.new_tokens_from) == (16, "line 2")
    assert agreed.fixed.quantization == {"load_in_4bit": True, "bnb_4bit_compute_dtype": "bfloat16"}
    assert "16 new tokens (line 2)" == agreed.describe()
