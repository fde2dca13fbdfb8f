"""Energy readings: NVML's total-energy counter, sampled power as a labelled fallback.

Where no GPU exists (the CPU tests), `EstimatedMeter` stands in: elapsed time times a
nominal power, labelled as an estimate so it is never mistaken for a measurement.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from ecolint.measure import MeasureError


def nvml_handle(device_uuid: str | None = None) -> Any:
    try:
        import pynvml
    except ImportError:
        raise MeasureError('NVML is unavailable: pip install "ecolint[measure]" (it brings nvidia-ml-py)') from None
    try:
        pynvml.nvmlInit()
        if device_uuid:
            try:
                return pynvml.nvmlDeviceGetHandleByUUID(device_uuid)
            except pynvml.NVMLError:
                pass
        return pynvml.nvmlDeviceGetHandleByIndex(0)
    except pynvml.NVMLError as exc:
        raise MeasureError(f"NVML is unavailable: {exc}") from None


class CounterMeter:
    """Joules from `nvmlDeviceGetTotalEnergyConsumption` (millijoules since driver load)."""

    kind = "nvml-energy-counter"

    def __init__(self, handle: Any) -> None:
        import pynvml

        self.handle = handle
        self.read = lambda: pynvml.nvmlDeviceGetTotalEnergyConsumption(handle) / 1000.0
        self.read()  # raises NVMLError_NotSupported where the counter is missing
        self._start = 0.0

    def start(self) -> None:
        self._start = self.read()

    def stop(self) -> float:
        return self.read() - self._start


class SampledPowerMeter:
    """Joules integrated from power sampled every 10 ms (fallback; less exact)."""

    kind = "nvml-sampled-power"

    def __init__(self, handle: Any, interval_s: float = 0.01) -> None:
        import pynvml

        self.power_w = lambda: pynvml.nvmlDeviceGetPowerUsage(handle) / 1000.0
        self.interval_s = interval_s
        self._thread: threading.Thread | None = None
        self._joules = 0.0
        self._running = False

    def _sample(self) -> None:
        last_t, last_w = time.perf_counter(), self.power_w()
        while self._running:
            time.sleep(self.interval_s)
            now, watts = time.perf_counter(), self.power_w()
            self._joules += (watts + last_w) / 2 * (now - last_t)
            last_t, last_w = now, watts

    def start(self) -> None:
        self._joules, self._running = 0.0, True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def stop(self) -> float:
        self._running = False
        if self._thread is not None:
            self._thread.join()
        return self._joules


class EstimatedMeter:
    """No GPU: elapsed seconds times a nominal 100 W. For tests of the orchestration only."""

    kind = "estimated-no-gpu"
    nominal_w = 100.0

    def __init__(self) -> None:
        self._start = 0.0

    def start(self) -> None:
        self._start = time.perf_counter()

    def stop(self) -> float:
        return (time.perf_counter() - self._start) * self.nominal_w


def gpu_meter(device_uuid: str | None = None) -> CounterMeter | SampledPowerMeter:
    """The best meter this GPU offers: the energy counter, else sampled power."""
    import pynvml

    handle = nvml_handle(device_uuid)
    try:
        return CounterMeter(handle)
    except pynvml.NVMLError:
        try:
            pynvml.nvmlDeviceGetPowerUsage(handle)
        except pynvml.NVMLError as exc:
            raise MeasureError(f"NVML offers neither the energy counter nor power readings on this GPU: {exc}") from None
        return SampledPowerMeter(handle)


def gpu_facts() -> dict[str, Any]:
    """GPU name, driver and power limit, for the report."""
    import pynvml

    handle = nvml_handle()

    def text(value: Any) -> str:
        return value.decode() if isinstance(value, bytes) else str(value)

    facts: dict[str, Any] = {"name": text(pynvml.nvmlDeviceGetName(handle)), "driver": text(pynvml.nvmlSystemGetDriverVersion())}
    try:
        facts["power_limit_w"] = pynvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000.0
    except pynvml.NVMLError:
        facts["power_limit_w"] = None
    return facts
