"""Run every benchmark, each in a fresh process, and write their output to RESULTS.md.

Each section of RESULTS.md starts with a marker naming its script, then the line describing
the machine and the time it ran; ``--only`` re-runs some scripts and keeps the other sections
of the existing file as they are (the 1M-vector parts need only run once). Hand-written
sections under a marker of another name (``<!-- benchmarks.notes -->``) are kept, last.

Run: ``python -m benchmarks.run_all [--only pipeline startup] [--quick]``.
"""

from __future__ import annotations

import argparse
import datetime
import re
import subprocess
import sys
from pathlib import Path

from benchmarks.common import REPO_ROOT, machine_line

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"

# script -> arguments of the full run, and of a --quick run (small sizes, to try things out)
SCRIPTS: dict[str, tuple[list[str], list[str]]] = {
    "encoder_ceiling": ([], ["--models", "default", "--batch-sizes", "1,8", "--seconds", "1"]),
    "pipeline": ([], ["--count", "8", "--seconds", "1"]),
    "query_latency": ([], ["--sizes", "10000,30000", "--queries", "30"]),
    "memory": ([], ["--vectors", "30000"]),
    "reindex_unchanged": ([], ["--files", "5000"]),
    "startup": ([], ["--runs", "2"]),
    "browse": ([], ["--size", "10000", "--queries", "20"]),
    "decode_memory": ([], ["--images", "2", "--workers", "2", "--no-baseline"]),
    "viewer": ([], ["--runs", "3"]),
    "watch": ([], ["--files", "5000", "--idle-seconds", "10", "--writes", "5"]),
    "vector_storage": ([], ["--vectors", "5000", "--queries", "100"]),
    "shapes_quality": ([], ["--per-class", "11"]),
    "crops_cost": ([], ["--count", "10", "--runs", "1"]),
}
MARKER = "<!-- benchmarks.{} -->"
HEADER = """# Benchmark results

The latest output of `python -m benchmarks.run_all` (each section: `python -m benchmarks.<name>`).
Targets are those of the speed issue, for a 2-core CPU; every number comes from the machine
named under its section, measured in that run.
"""


def run_script(name: str, args: list[str]) -> str:
    """Run ``benchmarks.<name>`` in a fresh process, echoing its output; its Markdown section."""
    started = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    machine = machine_line()
    process = subprocess.Popen([sys.executable, "-m", f"benchmarks.{name}", *args],
                               cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    lines = []
    for line in process.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    errors = process.stderr.read()
    body = "".join(lines)
    if process.wait() != 0:
        body += (f"\n**The script failed** (exit status {process.returncode}):\n\n```\n"
                 + errors.strip()[-2000:] + "\n```\n")
        print(errors, file=sys.stderr)
    command = " ".join(["python -m benchmarks." + name, *args])
    title, _, rest = body.partition("\n") if body.startswith("## ") else (f"## {name}", "", body)
    return (f"{MARKER.format(name)}\n{title}\n\n_Machine: {machine}. "
            f"Run {started}: `{command}`._\n\n{rest.lstrip()}")


def read_sections(path: Path) -> dict[str, str]:
    """The sections of an existing RESULTS.md, by script name."""
    if not path.exists():
        return {}
    parts = re.split(r"(?m)^<!-- benchmarks\.(\w+) -->\n", path.read_text())
    return {name: MARKER.format(name) + "\n" + text for name, text in zip(parts[1::2], parts[2::2])}


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=list(SCRIPTS), help="scripts to run")
    parser.add_argument("--quick", action="store_true", help="small sizes, to try things out")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    sections = read_sections(args.output)
    for name in args.only or SCRIPTS:
        sections[name] = run_script(name, SCRIPTS[name][1 if args.quick else 0])
    order = [n for n in SCRIPTS if n in sections] + [n for n in sections if n not in SCRIPTS]
    text = HEADER + "".join("\n" + sections[name].rstrip("\n") + "\n" for name in order)
    args.output.write_text(text)
    return text


if __name__ == "__main__":
    main(sys.argv[1:])
