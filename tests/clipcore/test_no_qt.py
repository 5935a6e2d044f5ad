"""clipcore is the engine for the CLI and for the desktop app; it must never import Qt."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import importlib, json, pkgutil, sys
import clipcore
for info in pkgutil.walk_packages(clipcore.__path__, "clipcore."):
    importlib.import_module(info.name)
public = {name: type(getattr(clipcore, name)).__name__ for name in clipcore.__all__}
qt = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "shiboken6", "PyQt5", "PyQt6"))
print(json.dumps({"qt": qt, "public": public}))
"""


def test_importing_all_of_clipcore_never_imports_qt():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True, timeout=300)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["qt"] == []
    # every public name re-exported by clipcore resolves (a typo in __all__ would raise)
    assert {"Library", "Searcher", "parse_query", "ClipcoreError"} <= set(result["public"])
