"""Device selection, thread configuration and precision contexts (CPU machine, GPUs faked)."""

from __future__ import annotations

import pytest
import torch

from attnscope.engine import devices
from attnscope.engine.devices import (
    autocast_context,
    available_devices,
    configure_threads,
    pick_device,
)
from attnscope.engine.errors import DeviceError


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "_mps_available", lambda: False)


@pytest.fixture
def two_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(devices, "_mps_available", lambda: False)


def test_cpu_only_machine(no_gpu):
    assert available_devices() == ["cpu"]
    assert pick_device() == torch.device("cpu")
    assert pick_device("CPU ") == torch.device("cpu")


def test_unavailable_devices_say_what_is_available(no_gpu):
    with pytest.raises(DeviceError, match=r"'cuda' needs CUDA.*available: cpu"):
        pick_device("cuda")
    with pytest.raises(DeviceError, match=r"'mps' is not available; available: cpu"):
        pick_device("mps")


@pytest.mark.parametrize("name", ["gpu", "cuda:x", "cpu:1", "", "tpu"])
def test_unknown_device_names_list_the_valid_ones(name):
    with pytest.raises(DeviceError, match=r"unknown device .*valid: auto, cpu, cuda, cuda:N, mps"):
        pick_device(name)


def test_gpu_machine_prefers_cuda_and_validates_the_index(two_gpus):
    assert available_devices() == ["cuda:0", "cuda:1", "cpu"]
    assert pick_device() == torch.device("cuda:0")
    assert pick_device("cuda") == torch.device("cuda:0")
    assert pick_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(DeviceError, match=r"'cuda:2' does not exist: this machine has 2"):
        pick_device("cuda:2")


def test_mps_is_second_choice(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "_mps_available", lambda: True)
    assert available_devices() == ["mps", "cpu"]
    assert pick_device() == torch.device("mps")


def test_configure_threads_reserves_cores(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setattr(devices, "_usable_cores", lambda: 8)
    try:
        assert configure_threads(reserve_for_gui=2) == 6
        assert torch.get_num_threads() == 6
        monkeypatch.setattr(devices, "_usable_cores", lambda: 1)
        assert configure_threads() == 1  # never below one thread
        with pytest.raises(ValueError, match="reserve_for_gui"):
            configure_threads(-1)
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("precision", ["fp32", "fp16", "bf16"])
def test_cpu_always_computes_in_fp32(precision):
    layer = torch.nn.Linear(4, 3)
    with autocast_context("cpu", precision):
        out = layer(torch.ones(2, 4))
    assert out.dtype == torch.float32


def test_unknown_precision_is_rejected():
    with (
        pytest.raises(ValueError, match="valid: fp32, fp16, bf16"),
        autocast_context("cpu", "int8"),
    ):
        pass
