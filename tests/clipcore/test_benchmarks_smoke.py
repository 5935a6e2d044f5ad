"""The benchmark scripts still run: each main() at its smallest size with the tiny model.

Speed targets are not checked here (they live in benchmarks/RESULTS.md); these tests keep the
scripts from rotting as the engine changes, and check the parts of them that must be exact.
"""

from __future__ import annotations

import re

import torch

from benchmarks import (browse, decode_memory, encoder_ceiling, memory, pipeline, query_latency,
                        reindex_unchanged, run_all, startup, vector_storage, watch)
from benchmarks.flops import count_flops


def _table_value(report: str, row_label: str) -> str:
    """The last cell of the table row starting with ``row_label``."""
    row = next(line for line in report.splitlines() if line.startswith(f"| {row_label}"))
    return row.strip("| ").split(" | ")[-1]


def _check_report(report: str, title: str, targets: bool = True) -> None:
    assert report.startswith(f"## {title}")
    assert re.search(r"^\|---", report, re.M), "a Markdown table"
    assert ("- Target " in report) == targets


def test_flop_count_includes_fused_cpu_attention():
    """torch's counter misses the fused attention op; ours counts q/k/v/out projections and
    attention: 2 FLOPs per multiply-add, B=2 sequences of L=10 tokens, width E=32."""
    mha = torch.nn.MultiheadAttention(32, 4, batch_first=True).eval()
    x = torch.randn(2, 10, 32)
    b, l, e = 2, 10, 32
    expected = 2 * b * l * e * 3 * e + 2 * 2 * b * l * l * e + 2 * b * l * e * e
    assert count_flops(lambda: mha(x, x, x, need_weights=False)) == expected


def test_encoder_ceiling(tiny_config):
    out = encoder_ceiling.main(["--models", str(tiny_config), "--batch-sizes", "1,2",
                                "--seconds", "0", "--device", "cpu"])
    _check_report(out, "Encoder ceiling", targets=False)   # targets are for ViT-B-32 only
    assert re.search(r"^\| \S+tiny-clip.json \| tiny-clip \| 32 \|", out, re.M)


def test_pipeline(tiny_config, tmp_path):
    out = pipeline.main(["--model", str(tiny_config), "--count", "3", "--width", "64",
                         "--height", "48", "--decode-samples", "2", "--batch-sizes", "2",
                         "--seconds", "0", "--device", "cpu", "--work-dir", str(tmp_path)])
    _check_report(out, "Pipeline efficiency")
    assert "(3 new, 0 skipped" in out


def test_query_latency_recall_is_exact_below_the_hnsw_threshold(tiny_config, tmp_path):
    out = query_latency.main(["--model", str(tiny_config), "--sizes", "60", "--queries", "5",
                              "--k", "5", "--device", "cpu", "--work-dir", str(tmp_path)])
    _check_report(out, "Query latency")
    # 60 vectors are searched exactly, so the recall computation must find every neighbour,
    # searched as an image query and as a text query ("image / text" per query set)
    recall_row = [line for line in out.splitlines() if line.startswith("| 60 |")][2]
    assert recall_row.strip(" |").split(" | ")[1:] == ["1.000 / 1.000"] * 3


def test_memory(tiny_config, tmp_path):
    out = memory.main(["--model", str(tiny_config), "--vectors", "60",
                       "--work-dir", str(tmp_path)])
    _check_report(out, "Memory")
    assert "60 images, 32-d vectors" in out


def test_reindex_unchanged_opens_no_file(tmp_path):
    out = reindex_unchanged.main(["--files", "12", "--work-dir", str(tmp_path)])
    _check_report(out, "Large library")
    assert _table_value(out, "files opened inside the tree") == "0"
    assert _table_value(out, "model loads") == "0"


def test_watch_idle_and_latency(tmp_path):
    out = watch.main(["--files", "300", "--idle-seconds", "0.5", "--writes", "2",
                      "--work-dir", str(tmp_path)])
    _check_report(out, "Live watch")
    assert _table_value(out, "index runs asked for while idle") == "0"
    assert "(mode: watching)" in out


def test_startup(tiny_config):
    out = startup.main(["--model", str(tiny_config), "--runs", "1"])
    _check_report(out, "Start-up")
    assert re.search(r"^\| 1 \| [\d.]+ \| 1 \|", out, re.M), "one visible window"


def test_decode_memory(tiny_config):
    report = decode_memory.main(["--images", "2", "--workers", "2", "--side", "1500",
                                 "--no-baseline", "--model", str(tiny_config)])
    _check_report(report, "Decode memory")
    assert "2 of 2" in report          # both images were indexed


def test_vector_storage_halves_the_catalog(tmp_path):
    out = vector_storage.main(["--vectors", "3000", "--queries", "20", "--dim", "256",
                               "--work-dir", str(tmp_path)])
    _check_report(out, "Vector storage (float16)")
    per_photo = {row: int(_table_value(out, row).replace(",", ""))
                 for row in ("float32 blobs", "float16 blobs", "float32 catalog after")}
    assert per_photo["float16 blobs"] < 0.6 * per_photo["float32 blobs"]
    assert per_photo["float32 catalog after"] == per_photo["float16 blobs"]   # upgraded, compacted


def test_run_all_rerunning_one_script_keeps_the_other_sections_and_notes(tmp_path, monkeypatch):
    calls: list[str] = []

    def fake_run(name, args):
        calls.append(name)
        return f"{run_all.MARKER.format(name)}\n## {name} run {len(calls)}\n"

    monkeypatch.setattr(run_all, "run_script", fake_run)
    results = tmp_path / "RESULTS.md"
    run_all.main(["--output", str(results)])
    results.write_text(results.read_text() + "\n<!-- benchmarks.notes -->\n## Notes\n")
    run_all.main(["--output", str(results), "--only", "memory"])
    text = results.read_text()
    assert calls == list(run_all.SCRIPTS) + ["memory"]
    memory_run = len(run_all.SCRIPTS) + 1                # the --only run comes after them all
    startup_run = list(run_all.SCRIPTS).index("startup") + 1
    assert f"## memory run {memory_run}" in text and f"## startup run {startup_run}" in text
    assert text.index("encoder_ceiling") < text.index("## memory") < text.index("startup")
    assert text.rstrip().endswith("## Notes"), "hand-written notes are kept, last"


def test_browse_date_filter_returns_k_hits_in_the_year(tiny_config, tmp_path):
    out = browse.main(["--model", str(tiny_config), "--size", "300", "--queries", "4",
                       "--k", "5", "--device", "cpu", "--work-dir", str(tmp_path)])
    _check_report(out, "Browse: date filter")
    assert _table_value(out, "300") == "yes"      # every filtered query: k hits in its year
