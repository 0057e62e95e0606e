"""Energy of one request in Wh, and how it was obtained. Never raises; unknown is None.

- local tier: a measured counter where the platform has one: NVML total energy on CUDA ("nvml"),
  Linux powercap/RAPL package energy on CPU ("rapl"; it counts the whole CPU package, so concurrent
  work on the machine is included); else the policy's device watts x wall time ("estimated_device_watts").
- cloud tier: EcoLogits' model of the provider's model ("ecologits", mean of its range); unknown otherwise.
CO2 for local energy uses the policy's grid intensity; for the cloud, EcoLogits' own figure."""

from __future__ import annotations

import glob
import logging
import time
from functools import lru_cache
from typing import NamedTuple

RAPL_GLOB = "/sys/class/powercap/intel-rapl:[0-9]*/energy_uj"


@lru_cache(maxsize=1)
def _rapl_files() -> tuple[tuple[str, int], ...]:
    out = []
    for f in sorted(glob.glob(RAPL_GLOB)):
        try:
            with open(f) as fh:
                fh.read()
            with open(f.replace("energy_uj", "max_energy_range_uj")) as fh:
                out.append((f, int(fh.read())))
        except (OSError, ValueError):
            continue
    return tuple(out)


def _rapl_read() -> list[int] | None:
    files = _rapl_files()
    if not files:
        return None
    try:
        return [int(open(f).read()) for f, _ in files]
    except (OSError, ValueError):
        return None


class Reading(NamedTuple):
    """What a counter measured (an `EnergyMeter` after its block, or a reading kept from one)."""

    wh: float | None
    source: str


class EnergyMeter:
    """Wraps one local generation: `with EnergyMeter(device) as m: ...; m.wh, m.source`."""

    def __init__(self, device: str = "cpu"):
        self.device, self.wh, self.source = device, None, "unknown"

    def __enter__(self):
        self.t0 = time.perf_counter()
        self._nvml = _nvml_read() if self.device == "cuda" else None
        self._rapl = None if self._nvml is not None else _rapl_read()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        try:
            if self._nvml is not None and (end := _nvml_read()) is not None:
                self.wh, self.source = (end - self._nvml) / 3.6e6, "nvml"  # mJ -> Wh
            elif self._rapl is not None and (end := _rapl_read()) is not None:
                uj = sum((e - s) % rng for (e, s, (_, rng)) in zip(end, self._rapl, _rapl_files()))
                self.wh, self.source = uj / 3.6e9, "rapl"
        except Exception:
            self.wh, self.source = None, "unknown"
        return False


def _nvml_read() -> int | None:
    """Total GPU energy in mJ since driver load (device 0), or None."""
    try:
        import pynvml

        pynvml.nvmlInit()
        return int(pynvml.nvmlDeviceGetTotalEnergyConsumption(pynvml.nvmlDeviceGetHandleByIndex(0)))
    except Exception:
        return None


def estimate_local(watts: float, seconds: float) -> float:
    return watts * seconds / 3600


def _provider_model(model: str, provider: str | None, name: str | None) -> tuple[str, str]:
    if "/" in model:
        p, n = model.split("/", 1)
    else:
        p, n = "openai", model
    return provider or p, name or n


_UNKNOWN: set[tuple[str, str]] = set()


@lru_cache(maxsize=1)
def _llm_impacts():
    from ecologits.tracers.utils import llm_impacts

    logging.getLogger("ecologits").setLevel(logging.ERROR)  # after import: ecologits installs its own logger
    return llm_impacts


def cloud_energy(model: str, names, completion_tokens: int | None, latency_s: float):
    """-> (energy_wh, co2_g, source) from EcoLogits, or (None, None, 'unknown'). `names`: a CloudCost
    (`ecologits_provider` / `ecologits_model` override what `model` says)."""
    if completion_tokens is None:
        return None, None, "unknown"
    provider, name = _provider_model(model, names.ecologits_provider, names.ecologits_model)
    if (provider, name) in _UNKNOWN:  # EcoLogits does not know it: said once, not looked up per request
        return None, None, "unknown"
    try:
        llm_impacts = _llm_impacts()
        impacts = llm_impacts(provider=provider, model_name=name, output_token_count=int(completion_tokens),
                              request_latency=float(latency_s))
        if impacts is None or impacts.energy is None:
            _UNKNOWN.add((provider, name))
            return None, None, "unknown"

        def mean(v):
            v = v.value
            return (v.min + v.max) / 2 if hasattr(v, "min") else float(v)

        return mean(impacts.energy) * 1000, mean(impacts.gwp) * 1000, "ecologits"  # kWh -> Wh, kg -> g
    except Exception:
        return None, None, "unknown"
