"""The core is plain PyTorch: no Streamlit anywhere in transformer/, sub-packages included."""

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "transformer"
FORBIDDEN = ("streamlit", "ui", "app_pages")


def _imports(path: Path) -> list[str]:
    """The absolute module names a file imports (``import a.b``, ``from a.b import c``)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _offenders(root: Path) -> list[str]:
    """Every import of Streamlit, ui or app_pages in any .py file under ``root``, at any depth."""
    return [
        f"{path.relative_to(root).as_posix()}: {name}"
        for path in sorted(root.rglob("*.py"))
        for name in _imports(path)
        if name.split(".")[0] in FORBIDDEN
    ]


def test_no_streamlit_import_in_the_core():
    assert len(list(CORE.rglob("*.py"))) >= 7
    assert _offenders(CORE) == []


def test_the_purity_check_looks_into_sub_packages(tmp_path):
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "clean.py").write_text("import torch\nfrom . import sibling\n")
    (tmp_path / "sub" / "deeper" / "view.py").write_text("import streamlit as st\nfrom ui.charts import x\n")
    assert _offenders(tmp_path) == ["sub/deeper/view.py: streamlit", "sub/deeper/view.py: ui.charts"]


def test_the_lesson_builders_live_outside_the_core():
    assert not (CORE / "explain.py").exists()
    lessons = CORE.parent / "ui" / "lessons"
    assert (lessons / "__init__.py").exists()
    for path in lessons.rglob("*.py"):  # lessons are plain functions: the pages, not the lessons, import Streamlit
        assert "streamlit" not in {n.split(".")[0] for n in _imports(path)}, path
