"""Encoder ceiling: images/s per model preset against the machine's own matrix-multiply rate.

For each model (every preset by default; random weights, which run at the same speed as
trained ones) it measures, through ``clipcore.encoder.Encoder`` (what users run):

* images/s at each batch size, on preprocessed (N, 3, S, S) input, after one warm-up batch
  (the fastest timed batch: on a shared machine the least disturbed one);
* GFLOP per image of the image tower (``benchmarks.flops``, fused attention included);
* achieved GFLOP/s / the float32 (or the encoder's dtype) matmul GFLOP/s measured in this run;
* the same model built with plain ``open_clip.create_model`` at the best batch size.

Run: ``python -m benchmarks.encoder_ceiling [--models default ViT-L-14] [--seconds 3]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from benchmarks.common import Report, base_parser, matmul_gflops, synchronize, time_repeated
from benchmarks.models import open_clip_model, preset_names, random_weight_spec
from clipcore.encoder import Encoder
from clipcore.errors import ClipcoreError

TARGET_MODELS = ("ViT-B-32", "ViT-B-32-256")   # the target: >= 0.8 of the ceiling
TARGET_RATIO = 0.8


def measure_rate(encode, batch, seconds: float, device) -> float:
    """images/s of ``encode(batch)`` after a warm-up: the fastest of >= 3 calls over
    ``seconds`` (the call least disturbed by other processes on a shared machine)."""
    encode(batch)
    synchronize(device)
    times = time_repeated(lambda: encode(batch), seconds, min_runs=3, device=device)
    return len(batch) / min(times)


def sweep(encode, image_size: int, batch_sizes, seconds: float, max_batch_seconds: float,
          device) -> dict[int, float]:
    """images/s per batch size; stops growing the batch once one batch would take too long.
    Input: (N, 3, S, S) float32 on the CPU, as the indexer hands it to the Encoder."""
    import torch

    rates: dict[int, float] = {}
    for bs in batch_sizes:
        if rates and bs / max(rates.values()) > max_batch_seconds:
            break
        batch = torch.randn(bs, 3, image_size, image_size)
        rates[bs] = measure_rate(encode, batch, seconds, device)
    return rates


def plain_encode(model, device, dtype):
    """Plain open_clip inference: eval mode, inference_mode, nothing else tuned."""
    import torch

    def encode(x):
        with torch.inference_mode():
            return model.encode_image(x.to(device, dtype), normalize=True).cpu()

    return encode


def main(argv: list[str] | None = None) -> str:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=None,
                        help="presets, open_clip names or config .json paths "
                        "(default: every preset, and ViT-B-32)")
    parser.add_argument("--batch-sizes", default="1,2,4,8,16,32")
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="measuring time per batch size (after a warm-up batch)")
    parser.add_argument("--max-batch-seconds", type=float, default=8.0,
                        help="skip batch sizes whose one batch would take longer than this")
    parser.add_argument("--compile", action="store_true",
                        help="also time the Encoder with torch.compile'd image tower (slow to "
                        "compile; reported in its own column)")
    args = parser.parse_args(argv)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]

    import torch

    from benchmarks.flops import count_flops

    report = Report("Encoder ceiling")
    rows, sweeps, ceilings, measured = [], [], {}, []
    for name in args.models or preset_names() + ["ViT-B-32"]:
        try:
            spec = random_weight_spec(name, args.device)
            encoder = Encoder.load(spec)
        except ClipcoreError as exc:
            reason = str(exc).splitlines()[0].replace("|", "/")[:160]
            rows.append([name, f"not measured: {reason}"] + [""] * 7)
            continue
        device, dtype, size = encoder.device, encoder.dtype, encoder.image_size
        key = f"{device.type} {str(dtype).removeprefix('torch.')}"
        if key not in ceilings:
            ceilings[key] = matmul_gflops(device, dtype, seconds=min(2.0, args.seconds))
        rates = sweep(encoder.encode_images, size, batch_sizes, args.seconds,
                      args.max_batch_seconds, device)
        best_bs = max(rates, key=rates.get)
        # FLOPs of the module the Encoder runs (MobileCLIP is re-parameterised there)
        model, one = encoder.model, torch.randn(1, 3, size, size, device=device)
        gflop = count_flops(lambda: model.encode_image(one)) / 1e9
        compiled = "-"
        if args.compile:
            encoder.model.visual = torch.compile(encoder.model.visual)
            batch = torch.randn(best_bs, 3, size, size)
            compiled = f"{measure_rate(encoder.encode_images, batch, args.seconds, device):.1f}"
        encoder = model = None   # free them before building the plain open_clip model
        plain = open_clip_model(spec, device, dtype)
        torch.set_flush_denormal(False)   # torch's default (Encoder.load turns it on again)
        batch = torch.randn(best_bs, 3, size, size)
        plain_rate = measure_rate(plain_encode(plain, device, dtype), batch, args.seconds, device)
        del plain
        # the ceiling again after each model: the best of all its measurements counts
        ceilings[key] = max(ceilings[key],
                            matmul_gflops(device, dtype, seconds=min(2.0, args.seconds)))
        measured.append((name, Path(spec.name).stem, key, rates[best_bs] * gflop))
        rows.append([name, Path(spec.name).stem, size, f"{gflop:.3g}", best_bs,
                     f"{rates[best_bs]:.1f}", f"{plain_rate:.1f}", compiled,
                     f"{rates[best_bs] * gflop:.0f}"])
        sweeps.append([name] + [f"{rates[b]:.1f}" if b in rates else "-" for b in batch_sizes])

    ratios = {name: gflops / ceilings[key] for name, _, key, gflops in measured}
    for row in rows:
        row.append(f"{ratios[row[0]]:.3f}" if row[0] in ratios else "")
    targets = [(f"{name} >= {TARGET_RATIO} of the matmul ceiling", f"{ratios[name]:.3f}",
                ratios[name] >= TARGET_RATIO)
               for name, arch, _, _ in measured if arch in TARGET_MODELS]

    report.emit("Matmul ceiling (best of its measurements before and after each model): "
                + ", ".join(f"{k}: {v:.0f} GFLOP/s" for k, v in ceilings.items())
                + f"; {torch.get_num_threads()} torch threads. Input: preprocessed random "
                "tensors; random weights (same speed as trained ones, except where trained "
                "weights produce denormal floats, which the Encoder flushes). GFLOP/img counts 2 "
                "FLOPs per multiply-add, fused attention included (benchmarks/flops.py).\n")
    report.table(["model", "architecture", "input px", "GFLOP/img", "best batch",
                  "img/s (Encoder)", "img/s (plain open_clip)", "img/s (torch.compile)",
                  "GFLOP/s", "of ceiling"], rows)
    report.emit("images/s by batch size (Encoder):\n")
    report.table(["model"] + [f"batch {b}" for b in batch_sizes], sweeps)
    for target in targets:
        report.target(*target)
    return report.text()


if __name__ == "__main__":
    main(sys.argv[1:])
