"""Energy readings: NVML's total-energy counter, sampled power as a labelled fallback.

One recorder lives in the orchestrating process and watches the GPU for the whole measurement;
the worker only says when each window began and ended (`time.perf_counter`, the system's
monotonic clock, the same in every process). The counter changes about every 100 ms (H200), so
reading it at a window's edges would err by up to a tick; instead the recorder polls it every
few milliseconds, notes when each change appears, and interpolates linearly between changes,
which places a window's edges within a few milliseconds.

Where no GPU exists (the CPU tests), `EstimatedRecorder` stands in: elapsed time times a
nominal power, labelled as an estimate so it is never mistaken for a measurement.
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from collections.abc import Sequence
from typing import Any

from ecolint.measure import MeasureError

# How long to wait for the counter to move past a window's end before giving up on it.
_COVER_TIMEOUT_S = 2.0


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


class _Trace:
    """A cumulative quantity (joules) known at points in time, read between them by interpolation."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.values: list[float] = []
        self.lock = threading.Lock()

    def add(self, at: float, value: float) -> None:
        with self.lock:
            self.times.append(at)
            self.values.append(value)

    def covers(self, at: float) -> bool:
        with self.lock:
            return bool(self.times) and self.times[0] <= at < self.times[-1]

    def value_at(self, at: float) -> float:
        with self.lock:
            i = bisect.bisect_right(self.times, at)
            if i == 0 or i == len(self.times):
                raise MeasureError("the energy reading does not cover the window")
            t0, t1 = self.times[i - 1], self.times[i]
            v0, v1 = self.values[i - 1], self.values[i]
        return v0 + (v1 - v0) * (at - t0) / (t1 - t0) if t1 > t0 else v1


class _Recorder:
    """Polls a reading in a thread into a `_Trace`; `energy_between` interpolates it."""

    kind = ""
    interval_s = 0.004

    def __init__(self, lag_s: float = 0.0) -> None:
        self.trace = _Trace()
        self.lag_s = lag_s  # the reading reflects the GPU `lag_s` seconds earlier
        self._running = False
        self._thread: threading.Thread | None = None

    def _poll(self) -> None:
        raise NotImplementedError

    def start(self, avoid_cores: Sequence[int] = ()) -> _Recorder:
        """Poll in a thread, kept off `avoid_cores` (the worker's core) where the system allows."""
        self._running = True

        def poll() -> None:
            if avoid_cores and hasattr(os, "sched_setaffinity"):
                others = set(os.sched_getaffinity(0)) - set(avoid_cores)
                if others:
                    os.sched_setaffinity(0, others)  # this thread only
            self._poll()

        self._thread = threading.Thread(target=poll, daemon=True, name=f"ecolint-{self.kind}")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._running = False
        if self._thread is not None:
            self._thread.join(timeout=1.0)

    def energy_between(self, start: float, end: float) -> float:
        """Joules the GPU used from `start` to `end` (perf_counter seconds); waits for the reading to cover `end`."""
        start, end = start + self.lag_s, end + self.lag_s
        deadline = time.perf_counter() + _COVER_TIMEOUT_S + max(0.0, end - time.perf_counter())
        while not self.trace.covers(end):
            if time.perf_counter() > deadline or not self._running:
                raise MeasureError(f"the {self.kind} reading stopped advancing")
            time.sleep(self.interval_s)
        return self.trace.value_at(end) - self.trace.value_at(start)

    def gpu_state(self) -> dict[str, int | None]:
        return {"sm_clock_mhz": None, "temperature_c": None}


class CounterRecorder(_Recorder):
    """Joules from `nvmlDeviceGetTotalEnergyConsumption` (millijoules since driver load).

    A change first seen at a poll happened since the poll before: it is placed halfway between.
    The value seen before the first change is dropped, since when it was written is unknown.
    """

    kind = "nvml-energy-counter"

    def __init__(self, handle: Any, lag_s: float = 0.0) -> None:
        import pynvml

        super().__init__(lag_s)
        self.handle = handle
        self.read = lambda: pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
        self.read()  # raises NVMLError_NotSupported where the counter is missing

    def _poll(self) -> None:
        last, seen_before = self.read(), time.perf_counter()
        while self._running:
            time.sleep(self.interval_s)
            value = self.read()
            seen = time.perf_counter()
            if value != last:
                self.trace.add((seen_before + seen) / 2, value / 1000.0)
                last = value
            seen_before = seen

    def gpu_state(self) -> dict[str, int | None]:
        import pynvml

        state: dict[str, int | None] = {}
        for key, read in (
            ("sm_clock_mhz", lambda: pynvml.nvmlDeviceGetClockInfo(self.handle, pynvml.NVML_CLOCK_SM)),
            ("temperature_c", lambda: pynvml.nvmlDeviceGetTemperature(self.handle, pynvml.NVML_TEMPERATURE_GPU)),
        ):
            try:
                state[key] = int(read())
            except (pynvml.NVMLError, AttributeError):
                state[key] = None
        return state


class SampledPowerRecorder(CounterRecorder):
    """Joules integrated from power sampled every 10 ms (fallback; NVML may average power over time)."""

    kind = "nvml-sampled-power"
    interval_s = 0.01

    def __init__(self, handle: Any, lag_s: float = 0.0) -> None:
        import pynvml

        _Recorder.__init__(self, lag_s)
        self.handle = handle
        self.power_w = lambda: pynvml.nvmlDeviceGetPowerUsage(handle) / 1000.0

    def _poll(self) -> None:
        joules, last_t, last_w = 0.0, time.perf_counter(), self.power_w()
        self.trace.add(last_t, joules)
        while self._running:
            time.sleep(self.interval_s)
            now, watts = time.perf_counter(), self.power_w()
            joules += (watts + last_w) / 2 * (now - last_t)
            self.trace.add(now, joules)
            last_t, last_w = now, watts


class EstimatedRecorder(_Recorder):
    """No GPU: elapsed seconds times a nominal 100 W. For tests of the orchestration only."""

    kind = "estimated-no-gpu"
    nominal_w = 100.0

    def start(self, avoid_cores: Sequence[int] = ()) -> EstimatedRecorder:
        self._running = True
        return self

    def energy_between(self, start: float, end: float) -> float:
        return (end - start) * self.nominal_w


def gpu_recorder(device_uuid: str | None = None, lag_s: float = 0.0, avoid_cores: Sequence[int] = ()) -> CounterRecorder:
    """The best reading this GPU offers, started: the energy counter, else sampled power."""
    import pynvml

    handle = nvml_handle(device_uuid)
    try:
        recorder: CounterRecorder = CounterRecorder(handle, lag_s)
    except pynvml.NVMLError:
        try:
            pynvml.nvmlDeviceGetPowerUsage(handle)
        except pynvml.NVMLError as exc:
            raise MeasureError(f"NVML offers neither the energy counter nor power readings on this GPU: {exc}") from None
        recorder = SampledPowerRecorder(handle, lag_s)
    recorder.start(avoid_cores)
    return recorder


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
