"""The local backend's dtype follows the hardware; the CPU's features are faked here."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from salam.doctor import check_llm
from salam.errors import ConfigError
from salam.llm.local_hardware import choose_dtype, cpu_bf16_feature, resolve_device
from salam.settings import Settings

CPU = torch.device("cpu")


def fake_cpu(monkeypatch: pytest.MonkeyPatch, *, amx: bool, avx512_bf16: bool) -> None:
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)


def test_a_cpu_with_avx512_bf16_gets_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_cpu(monkeypatch, amx=False, avx512_bf16=True)
    choice = choose_dtype("auto", CPU)
    assert choice.dtype == torch.bfloat16
    assert "AVX512-BF16" in choice.reason
    assert str(choice) == "bfloat16 (the CPU has AVX512-BF16)"


def test_a_cpu_with_amx_gets_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_cpu(monkeypatch, amx=True, avx512_bf16=True)
    assert cpu_bf16_feature() == "AMX and AVX512-BF16"
    assert choose_dtype("auto", CPU).dtype == torch.bfloat16


def test_an_avx2_only_cpu_gets_fp32(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_cpu(monkeypatch, amx=False, avx512_bf16=False)
    choice = choose_dtype("auto", CPU)
    assert choice.dtype == torch.float32
    assert "emulated" in choice.reason


def test_without_torch_probes_the_cpu_gets_fp32(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported", raising=False)
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported", raising=False)
    assert cpu_bf16_feature() is None
    assert choose_dtype("auto", CPU).dtype == torch.float32


def test_gpus_get_bf16_where_they_have_it(monkeypatch: pytest.MonkeyPatch) -> None:
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert choose_dtype("auto", cuda).dtype == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert choose_dtype("auto", cuda).dtype == torch.float16
    assert choose_dtype("auto", torch.device("mps")).dtype == torch.float32


def test_an_explicit_dtype_wins_over_the_hardware(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_cpu(monkeypatch, amx=False, avx512_bf16=False)
    choice = choose_dtype("bfloat16", CPU)
    assert (choice.dtype, choice.reason) == (torch.bfloat16, "set by SALAM_DTYPE")
    with pytest.raises(ConfigError, match="unknown dtype"):
        choose_dtype("int3", CPU)


def test_devices() -> None:
    assert resolve_device("cpu") == CPU
    with pytest.raises(ConfigError, match="unknown device"):
        resolve_device("tpu:banana")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA"):
            resolve_device("cuda")


def test_salam_doctor_shows_the_choice(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_cpu(monkeypatch, amx=False, avx512_bf16=True)
    (tmp_path / "model.gguf").write_bytes(b"GGUF")
    local = Settings(main_backend="local", main_model=str(tmp_path / "model.gguf"), device="cpu")
    row = check_llm("main", local)
    assert row.ok, row.detail
    assert row.detail.endswith("runs on cpu in bfloat16 (the CPU has AVX512-BF16)")
