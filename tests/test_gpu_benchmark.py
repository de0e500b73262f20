"""benchmarks/gpu.py on its tiny shape, on the CPU: every figure is measured, FLOPs are
counted, and no share of a ceiling is claimed without one."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from tests.conftest import load_benchmark


@pytest.fixture(scope="module")
def gpu() -> ModuleType:
    return load_benchmark("gpu")


def test_tiny_run_measures_both_phases(gpu: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    args = ["--tiny", "--seconds", "0.2", "--max-batches", "2", "--warmup", "0"]
    result = gpu.main([*args, "--out", str(out)])

    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    assert result["device"]["peak_bf16_tflops"] is None
    assert result["versions"]["torch"] == torch.__version__
    assert {"timestamp", "settings", "method"} <= result.keys()
    deberta = result["models"][0]
    assert deberta["class"] == "DebertaV2ForSequenceClassification"
    assert deberta["config"]["relative_attention"] is True
    if deberta["attention"] != "sdpa":  # then the SDPA path is measured on BERT
        assert deberta["attention"].startswith("eager: SDPA refused")
        assert [r["attention"] for r in result["models"][1:]] == ["sdpa"]
    for row in result["models"]:
        assert row["n_parameters"] > 0
        for phase in ("scoring", "training"):
            figures = row[phase]
            assert figures["n_batches"] >= 1
            assert figures["snippets_per_s"] > 0 and figures["tokens_per_s"] > 0
            assert figures["flops"] > 0 and figures["achieved_tflops"] > 0
            assert figures["mfu"] is None  # no CPU ceiling without --peak-tflops
            assert 0 <= figures["padding_share"] < 1
            assert figures["n_tokens"] <= figures["n_padded_tokens"]
        # forward + backward is about three forwards, attention included (SDPA's CPU
        # kernel is counted too, not only the CUDA ones)
        per_token = {
            p: row[p]["flops"] / row[p]["n_padded_tokens"] for p in ("scoring", "training")
        }
        assert 2.5 < per_token["training"] / per_token["scoring"] < 3.5


def test_flops_fit_matches_a_counted_length(gpu: ModuleType) -> None:
    torch.manual_seed(0)
    model = gpu.BertForSequenceClassification(gpu.bert_config(gpu.TINY))
    batches = gpu.make_batches(64, 4, 1000, (48, 128), 0, torch.device("cpu"))
    step = gpu.scoring_step(model, torch.device("cpu"), torch.no_grad)
    fitted = gpu.flops_by_length(step, batches)
    lengths = sorted(fitted)
    assert len(lengths) > 3  # so most lengths come from the fit
    check = next(b for b in batches if b.padded_length == lengths[1])
    counter = FlopCounterMode(display=False)
    with counter:
        step(check)
    assert fitted[lengths[1]] == counter.get_total_flops()


def test_share_of_ceiling_and_datasheet_table(gpu: ModuleType) -> None:
    batch = gpu.make_batches(8, 8, 1000, (48, 128), 0, torch.device("cpu"))[0]
    flops = {batch.padded_length: 10**12}
    figures = gpu.phase_figures([batch], 2.0, flops, 100.0, torch.device("cpu"))
    assert figures["achieved_tflops"] == pytest.approx(0.5)
    assert figures["mfu"] == pytest.approx(0.005)
    assert gpu.datasheet_peak_tflops("NVIDIA H100 80GB HBM3") == 989
    assert gpu.datasheet_peak_tflops("NVIDIA H100 PCIe") == 756
    assert gpu.datasheet_peak_tflops("NVIDIA H200") == 989
    assert gpu.datasheet_peak_tflops("NVIDIA A100-SXM4-80GB") == 312
    assert gpu.datasheet_peak_tflops("NVIDIA L4") == 121
    assert gpu.datasheet_peak_tflops("NVIDIA L40S") is None  # not an L4
    assert gpu.datasheet_peak_tflops("NVIDIA H200 NVL") is None
    assert gpu.datasheet_peak_tflops("NVIDIA GH200 480GB") is None
