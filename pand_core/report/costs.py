"""The costs page: the benchmark records of `pand_core/measured/` (step time, data path, Stage 1, inference,
the GPU suite) as tables, and what they imply for a full CUB-200 run (estimates, labelled)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..config import SPLIT_SIZES, DistillConfig

# The paper's Stage 2 on CUB-200: its training split, at the paper recipe's batch, epochs and bank views.
CUB_TRAIN_IMAGES = SPLIT_SIZES["cub"].train  # CUB-200-2011's training split
# The paper recipe's numbers, from its one home (the paper profile is the dataclass defaults, no overrides).
PAPER_BATCH, PAPER_EPOCHS, BANK_VIEWS = DistillConfig.batch_size, DistillConfig.epochs, DistillConfig.bank_views


def collect_benchmarks(folder: str | Path) -> list[dict]:
    """Every benchmark JSON in `folder` (what `benchmarks/*.py` wrote), in name order, each with its `file` name.

    Args:
        folder: The folder of benchmark records (the package's `measured/`).
    """
    return [dict(json.loads(p.read_text()), file=p.name) for p in sorted(Path(folder).glob("*.json"))]


def benchmarks_of(bench: list[dict], name: str) -> list[dict]:
    """The records of one benchmark (`stage2_step_time`, `data_path`, `stage1_step`, `inference`, `gpu_suite`).

    Args:
        bench: Benchmark records (`collect_benchmarks`).
        name: The benchmark's name, as each record's `benchmark` field gives it.
    """
    return [r for r in bench if r["benchmark"] == name]


def ran_on_gpu(bench: list[dict]) -> bool:
    """Whether any benchmark record was measured on a device other than the CPU.

    Args:
        bench: Benchmark records (`collect_benchmarks`).
    """
    return any(r["environment"]["device"] != "cpu" for r in bench)


def bench_hardware(record: dict) -> str:
    """The machine a benchmark record was measured on: device, CPU cores, torch version.

    Args:
        record: One benchmark record (its `environment`).
    """
    env = record["environment"]
    return f"{env['device']} ({env['cpu_count']} CPU cores, torch {env['torch']})"


def step_time_markdown(bench: list[dict]) -> str:
    """Median Stage 2 step of CE, PAND with the bank and PAND with the online teacher (ms, and the ratio to CE), one
    row per `stage2_step_time` record.

    Args:
        bench: Benchmark records (`collect_benchmarks`).
    """
    rows = []
    for r in benchmarks_of(bench, "stage2_step_time"):
        t, q, s = r["times"], r["ratios_to_ce"], r["sizes"]
        models = f", {s['teacher']} → {s['student']}" if "teacher" in s and "student" in s else ""
        rows.append(f"| {bench_hardware(r)} | {r['size']} ({s['image']} px, batch {s['batch']}, {s['classes']} classes{models}) | "
                    f"{'bf16' if r['amp'] else 'fp32'} | {1000 * t['ce']['median_s']:.1f} | "
                    f"{1000 * t['pand_bank']['median_s']:.1f} ({q['pand_bank']:.2f}×) | "
                    f"{1000 * t['pand_online']['median_s']:.1f} ({q['pand_online']:.2f}×) |")
    return ("| hardware | size | precision | CE step (ms) | PAND, bank (ms) | PAND, online teacher (ms) |\n"
            "|---|---|---|---|---|---|\n" + ("\n".join(rows) or "| no step-time benchmark yet | | | | | |"))


def data_path_markdown(bench: list[dict]) -> str:
    """Images per second of the CPU data path and of the device data path, one row per `data_path` record.

    Args:
        bench: Benchmark records (`collect_benchmarks`).
    """
    rows = [f"| {bench_hardware(r)} | {r['workers']} | {r['cpu_path_images_per_s']:.0f} | {r['device']} | "
            f"{r['device_path_images_per_s']:.0f} |" for r in benchmarks_of(bench, "data_path")]
    return ("| hardware | loader workers | CPU path (images/s) | device path on | device path (images/s) |\n"
            "|---|---|---|---|---|\n" + ("\n".join(rows) or "| no data-path benchmark yet | | | | |"))


def step_demand(record: dict) -> float:
    """Images per second a student-only (CE) training step consumes: batch size / median step time.

    Args:
        record: One `stage2_step_time` record.
    """
    return record["sizes"]["batch"] / record["times"]["ce"]["median_s"]


def step_demand_lines(bench: list[dict]) -> list[str]:
    """One sentence per full-size step-time record: the images per second its CE step consumes (`step_demand`).

    Args:
        bench: Benchmark records (`collect_benchmarks`).
    """
    return [f"{bench_hardware(r)}: a student-only training step consumes {step_demand(r):.0f} images/s at full size"
            for r in benchmarks_of(bench, "stage2_step_time") if r["size"] == "full"]


def stage1_step_markdown(bench: list[dict]) -> str:
    """Stage 1 step time with the full and the truncated text sequence, and the speed-up, one row per `stage1_step`
    record.

    Args:
        bench: Benchmark records (`collect_benchmarks`).
    """
    rows = [f"| {bench_hardware(r)} | {r['teacher']} | {r['classes']} | {r['full']['sequence_length']} → "
            f"{r['truncated']['sequence_length']} | {r['full']['step_s']:.3f} | {r['truncated']['step_s']:.3f} | "
            f"{r['speedup']:.2f}× |" for r in benchmarks_of(bench, "stage1_step")]
    return ("| hardware | text tower | classes | tokens | full step (s) | truncated step (s) | speed-up |\n"
            "|---|---|---|---|---|---|---|\n" + ("\n".join(rows) or "| no Stage 1 benchmark yet | | | | | | |"))


def inference_markdown(bench: list[dict]) -> list[str]:
    """One table per inference record (parameters, GMAC, weight size and latency per model, export check); a
    single note when there is none.

    Args:
        bench: Benchmark records (`collect_benchmarks`).
    """
    tables = []
    for r in benchmarks_of(bench, "inference"):
        rows = [f"| {name} | {m['params'] / 1e6:.1f} M | {m['macs_per_image'] / 1e9:.2f} | "
                f"{m['fp32_weights_bytes'] / 2**20:.0f} | {1000 * m['latency_batch1_s']:.1f} | "
                f"{1000 * m['latency_batch32_s']:.0f} |" for name, m in r["models"].items()]
        tables.append(f"**{bench_hardware(r)}, {r['image_size']} px**\n\n| model | parameters | GMAC / image | "
                      "fp32 weights (MiB) | batch 1 (ms) | batch 32 (ms) |\n|---|---|---|---|---|---|\n" + "\n".join(rows)
                      + f"\n\nExported ResNet-18: TorchScript max |Δlogit| {r['export_check']['torchscript_max_abs_err']:.1e}, "
                      f"ONNX {r['export_check']['onnx_max_abs_err']:.1e}.")
    return tables or ["_No inference benchmark yet._"]


def cub_estimate(record: dict) -> dict[str, float]:
    """Estimated hours of the paper's Stage 2 on CUB-200 from one step-time record: `online` = epochs × steps ×
    online step; `bank` = epochs × steps × bank step + one teacher pass over every view of every training image
    (the online step's extra time over CE, per image).

    Args:
        record: One `stage2_step_time` record (its median CE, bank and online steps, and its batch size).
    """
    t, batch = record["times"], record["sizes"]["batch"]
    steps = math.ceil(CUB_TRAIN_IMAGES / PAPER_BATCH)
    teacher_per_image = (t["pand_online"]["median_s"] - t["ce"]["median_s"]) / batch
    online = PAPER_EPOCHS * steps * t["pand_online"]["median_s"]
    bank = PAPER_EPOCHS * steps * t["pand_bank"]["median_s"] + BANK_VIEWS * CUB_TRAIN_IMAGES * max(teacher_per_image, 0)
    return {"online": online / 3600, "bank": bank / 3600}


def cub_estimate_markdown(bench: list[dict]) -> str:
    """`cub_estimate` for every step-time record measured at the paper's size (full, batch 128); a note that a GPU
    is needed when there is none.

    Args:
        bench: Benchmark records (`collect_benchmarks`).
    """
    rows = []
    for r in benchmarks_of(bench, "stage2_step_time"):
        if r["size"] != "full" or r["sizes"]["batch"] != PAPER_BATCH:  # the paper's step: 224 px, batch 128
            continue
        hours = cub_estimate(r)
        rows.append(f"| {bench_hardware(r)} | {'bf16' if r['amp'] else 'fp32'} | {hours['online']:.1f} | {hours['bank']:.1f} |")
    if not rows:
        return ("_No estimate yet: it needs a step measured at the paper's size (224 px, batch 128), which only a GPU "
                "can run; the GPU suite below measures it._")
    return ("| hardware | precision | Stage 2 online, estimated hours | Stage 2 bank, estimated hours |\n|---|---|---|---|\n"
            + "\n".join(rows))


GPU_SUITE_COMMAND = "python benchmarks/gpu_suite.py"


GPU_SUITE_PARTS = (("step", 1, "Stage 2 step at the paper's sizes"), ("memory", 2, "peak GPU memory per mode"),
                   ("data_path", 3, "data path"), ("bank_build", 4, "bank build"), ("stage1", 5, "Stage 1 epoch"),
                   ("end_to_end", 6, "end to end, and the whole reproduction projected"))


ORIGINAL_GPUS = 4  # the original: 4 GPUs, the teacher online in fp32 at every step


def gpu_suite_records(bench: list[dict]) -> list[dict]:
    """The GPU suite's records measured on a GPU (`pand_core/measured/gpu-*.json`); dry runs are never shown.

    Args:
        bench: Benchmark records (`collect_benchmarks`).
    """
    return [r for r in benchmarks_of(bench, "gpu_suite") if not r.get("dry_run")]


def gpu_suite_pending() -> str:
    """What the costs page says before the GPU suite has run: every part pending, and the command to run."""
    lines = ["**The GPU suite has not run yet.** On a machine with one GPU, run", "",
             f"    {GPU_SUITE_COMMAND}", "",
             "(under 10 minutes; it writes `pand_core/measured/gpu-<gpu name>.json`, which this page then shows). "
             f"Check it first on the CPU with `{GPU_SUITE_COMMAND} --dry-run`.", ""]
    lines += [f"- part {n}, {title}: pending (no GPU run yet)" for _, n, title in GPU_SUITE_PARTS]
    return "\n".join(lines)


def _ms(t: dict) -> str:
    return f"{1000 * t['median_s']:.1f} ({1000 * t['p10_s']:.0f}–{1000 * t['p90_s']:.0f})"


def original_setup_estimate(record: dict) -> dict | None:
    """The original setup's Stage 2 on CUB-200, estimated from this record: ResNet-18's measured online-teacher fp32
    step × `PAPER_EPOCHS` × ⌈`CUB_TRAIN_IMAGES` / `PAPER_BATCH`⌉ steps ÷ `ORIGINAL_GPUS` (a perfect split of each batch;
    data loading, evaluation and Stage 1 left out). None without that measurement.

    Args:
        record: One GPU-suite record (its `step` part).
    """
    t = record["parts"]["step"].get("students", {}).get("resnet18", {}).get("fp32", {}).get("pand_online")
    if t is None:
        return None
    steps = math.ceil(CUB_TRAIN_IMAGES / PAPER_BATCH)
    s = t["median_s"] * PAPER_EPOCHS * steps / ORIGINAL_GPUS
    return {"stage2_s": s, "formula": f"{1000 * t['median_s']:.1f} ms × {PAPER_EPOCHS} epochs × {steps} steps ÷ "
                                      f"{ORIGINAL_GPUS} GPUs", "estimate": True}


def _part_body(name: str, p: dict, record: dict) -> list[str]:
    if name == "step":
        rows = ["| student | precision | CE ms (p10–p90) | PAND, bank ms (× CE) | PAND, online ms (× CE) |",
                "|---|---|---|---|---|"]
        for student, by_precision in p["students"].items():
            for precision, t in by_precision.items():
                q = p["ratios_to_ce"][student][precision]
                rows.append(f"| {student} | {precision} | {_ms(t['ce'])} | {_ms(t['pand_bank'])} ({q['pand_bank']:.2f}×) | "
                            f"{_ms(t['pand_online'])} ({q['pand_online']:.2f}×) |")
        missing = [f"- not measured: {g}" for g in p.get("skipped_groups", []) + p.get("failed_groups", [])]
        return rows + ["", f"{p['image']} px, batch {p['batch']}, {p['classes']} classes; the trainer's own step on "
                           "synthetic batches (data loading excluded)."] + missing
    if name == "memory":
        rows = ["| student | precision | mode | peak GiB | fits a 16 GB Colab GPU |", "|---|---|---|---|---|"]
        for student, by_precision in p["modes"].items():
            for precision, modes in by_precision.items():
                for mode, m in modes.items():
                    gib = "n/a" if m["peak_gib"] is None else f"{m['peak_gib']:.1f}"
                    fits = "n/a" if m["fits_16gb_colab"] is None else ("yes" if m["fits_16gb_colab"] else "no")
                    rows.append(f"| {student} | {precision} | {mode} | {gib} | {fits} |")
        return rows + ["", f"Usable on a 16 GB Colab GPU: {p['colab_usable_gib']} GiB; the teacher's weights stay "
                           "resident in every mode."]
    if name == "data_path":
        lines = [f"CPU loader ({p['workers']} workers): {p['cpu_path_images_per_s']:.0f} images/s; device path from the "
                 f"uint8 cache: {p['device_path_images_per_s']:.0f} images/s ({p['source_px']} px sources)."]
        for key, f in (record.get("summary", {}).get("can_feed") or {}).items():
            lines.append(f"- {key} step consumes {f['step_images_per_s']:.0f} images/s: CPU path "
                         f"{'feeds it' if f['cpu_path'] else 'cannot feed it'}, device path "
                         f"{'feeds it' if f['device_path'] else 'cannot feed it'}")
        return lines
    if name == "bank_build":
        return [f"Teacher image tower in bf16: {p['images_per_s']:.0f} images/s (input {p['teacher_input_px']} px). "
                f"An {p['bank_images'] // CUB_TRAIN_IMAGES}-view bank of {CUB_TRAIN_IMAGES:,} images: "
                f"{p['bank_build_s_projected']:.0f} s, **projected** (teacher forward only)."]
    if name == "stage1":
        return [f"{p['classes']} classes, batch {p['batch']}: truncated text tower ({p['truncated']['sequence_length']} "
                f"tokens) {p['truncated']['step_s']:.3f} s per step, {p['truncated']['cub_epoch_s_estimate']:.1f} s per "
                f"epoch; full ({p['full']['sequence_length']} tokens) {p['full']['step_s']:.3f} s per step, "
                f"{p['full']['cub_epoch_s_estimate']:.1f} s per epoch ({p['speedup']:.2f}× speed-up)."]
    times = ", ".join(f"{t:.1f}" for t in p["epoch_time_s"])
    lines = [f"`distill()` with `pand` and the bank ({p['config']['bank_views']} views) on a synthetic world of CUB's sizes "
             f"({p['train_images']:,} training images): {p['epochs_run']} epochs of {times} s (training + test "
             f"evaluation)" + (f"; between epoch ends (checkpoint writes included): "
                               f"{', '.join(f'{t:.1f}' for t in p['epoch_wall_s'])} s" if p.get("epoch_wall_s") else "")
             + f"; setup {p['setup_s']:.0f} s."]
    proj = record.get("summary", {}).get("projection")
    if proj:
        lines += ["", f"**Projected** whole CUB reproduction on this GPU: **{proj['total_min']:.1f} min** "
                      f"({proj['total_s']:.0f} s) = Stage 1 {proj['stage1_epochs']} × {proj['stage1_epoch_s']:.1f} s "
                      f"+ features {proj['stage1_features_s']:.0f} s + bank {proj['bank_build_s']:.0f} s + "
                      f"{proj['stage2_epochs']} × {proj['stage2_epoch_s']:.1f} s + teacher loads "
                      f"{2 * proj['teacher_load_s']:.0f} s.", "", f"Formula: `{proj['formula']}`"]
    orig = original_setup_estimate(record)
    if orig:
        lines += ["", f"The original setup ({ORIGINAL_GPUS} GPUs, teacher online in fp32 at every step), **estimated**: "
                      f"Stage 2 alone {orig['stage2_s'] / 3600:.1f} h ({orig['formula']})"
                      + (f", {orig['stage2_s'] / proj['total_s']:.1f}× this GPU's projected whole reproduction."
                         if proj else ".")]
    return lines


def gpu_suite_markdown(record: dict) -> str:
    """One GPU-suite record as markdown: the hardware, each part (its numbers, or pending / skipped / failed with the
    reason), the projection against the original setup, and the issue's targets.

    Args:
        record: One GPU-suite record (`gpu_suite_records`).
    """
    gpu = record.get("gpu") or {}
    lines = [f"**GPU suite on {gpu.get('name', record['device'])}** ({bench_hardware(record)}; "
             f"{record['elapsed_s']:.0f} s of a {record['budget_s']:.0f} s budget"
             + ("" if record.get("finished") else "; did not finish") + ")"]
    for name, n, title in GPU_SUITE_PARTS:
        p = record["parts"][name]
        status = p["status"]
        lines += ["", f"**Part {n}: {title}**" + ("" if status == "measured" else f" — {status}"), ""]
        if status == "pending":
            lines.append("pending (not reached in this run)")
        elif status in ("skipped", "failed"):
            lines.append(f"{status}: {p.get('reason')}")
        else:
            lines += _part_body(name, p, record)
    t = record.get("targets") or {}

    def verdict(v) -> str:
        return "not measured" if v is None else ("met" if v else "NOT met")

    lines += ["", "**Targets**", "",
              f"- PAND + bank step ≤ 1.15× the CE step with bf16: {verdict(t.get('pand_bank_le_1.15x_ce_bf16'))}",
              f"- whole CUB reproduction ≤ 15 min on one GPU (projected): {verdict(t.get('cub_reproduction_le_15_min'))}",
              f"- device data path feeds the step: {verdict(t.get('device_data_path_feeds_step'))}"]
    return "\n".join(lines)
