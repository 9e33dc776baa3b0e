"""The core is plain PyTorch: no Streamlit anywhere in transformer/."""

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "transformer"


def test_no_streamlit_import_in_the_core():
    offenders = []
    for path in sorted(CORE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in ("streamlit", "ui", "app_pages")]
    assert len(list(CORE.glob("*.py"))) >= 7
    assert offenders == []
