"""Keep the translation catalogs in step with the code: extract, update, check (Babel underneath).

    python -m ui.i18n_catalogs extract   # rewrite locales/messages.pot from the code
    python -m ui.i18n_catalogs update    # extract, then merge the template into both .po files
    python -m ui.i18n_catalogs check     # list what the tests would fail on; exit 1 if anything

``extract`` and ``update`` run exactly the ``pybabel`` commands that ``locales/README.md`` shows. ``check``
finds, for each Chinese catalog: msgids not translated (empty or fuzzy), msgids missing from the catalog or
left over in it, placeholders, code spans and ``$…$`` formulas that differ from the msgid's, and glossary
terms (``locales/glossary.csv``) not used; and for the template: msgids that differ from a fresh
extraction. The tests (``tests/test_i18n.py``) call the same functions.
"""

from __future__ import annotations

import csv
import re
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

REPO = Path(__file__).resolve().parent.parent
LOCALES = REPO / "locales"
TEMPLATE = LOCALES / "messages.pot"
GLOSSARY = LOCALES / "glossary.csv"
TRANSLATED = ("zh_Hant", "zh_Hans")
PROJECT = "Transformer Classroom"
# The one extraction command (README, tests, this module): N_ marks strings translated where they are shown.
EXTRACT_ARGS = ["-F", "babel.cfg", "-k", "_", "-k", "N_", "--no-location", "--sort-output", "--project", PROJECT]


def _pybabel(*args: str) -> None:
    """Run a ``pybabel`` command in the repository (Babel's own command-line code, in this process)."""
    import os

    cwd = os.getcwd()
    try:
        os.chdir(REPO)
        CommandLineInterface().run(["pybabel", "-q", *args])
    finally:
        os.chdir(cwd)


def extract(output: Path = TEMPLATE) -> Path:
    """Extract every marked string of the code into ``output`` (by default the template itself)."""
    _pybabel("extract", *EXTRACT_ARGS, "-o", str(output), ".")
    return output


def update(locales_dir: Path = LOCALES, template: Path = TEMPLATE, languages: Iterable[str] = TRANSLATED) -> None:
    """Merge ``template`` into each language's ``messages.po``: new msgids (empty or a fuzzy guess to review),
    removed ones dropped."""
    for language in languages:
        _pybabel("update", "-i", str(template), "-d", str(locales_dir), "-l", language, "--ignore-obsolete")


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f)


def msgids(catalog: Catalog) -> set[str]:
    return {m.id for m in catalog if m.id}


def catalog_path(language: str, locales_dir: Path = LOCALES) -> Path:
    return locales_dir / language / "LC_MESSAGES" / "messages.po"


@dataclass(frozen=True)
class Problem:
    where: str  # "zh_Hant", "messages.pot", …
    kind: str  # "untranslated", "fuzzy", "missing", "obsolete", "stale", "markup", "glossary"
    msgid: str
    detail: str = ""

    def __str__(self) -> str:
        short = self.msgid if len(self.msgid) <= 80 else self.msgid[:77] + "…"
        return f"{self.where}: {self.kind}: {short!r}" + (f" ({self.detail})" if self.detail else "")


def stale_template(template: Path = TEMPLATE) -> list[Problem]:
    """Msgids of a fresh extraction that the template lacks, and template msgids the code no longer has."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = msgids(read_catalog(extract(Path(tmp) / "fresh.pot")))
    current = msgids(read_catalog(template))
    return [Problem(template.name, "stale", m, "in the code, not in the template") for m in sorted(fresh - current)] + [
        Problem(template.name, "stale", m, "in the template, no longer in the code") for m in sorted(current - fresh)
    ]


def out_of_sync(language: str, locales_dir: Path = LOCALES, template: Path = TEMPLATE) -> list[Problem]:
    """Template msgids the catalog lacks, and msgids (active or ``#~`` obsolete) the template no longer has."""
    catalog = read_catalog(catalog_path(language, locales_dir))
    ids, wanted = msgids(catalog), msgids(read_catalog(template))
    return (
        [Problem(language, "missing", m) for m in sorted(wanted - ids)]
        + [Problem(language, "obsolete", m) for m in sorted(ids - wanted)]
        + [Problem(language, "obsolete", m, "#~ entry") for m in sorted(k for k in catalog.obsolete if k)]
    )


def untranslated(language: str, locales_dir: Path = LOCALES) -> list[Problem]:
    """Msgids with an empty (or blank) msgstr, or one marked fuzzy (the app shows English for both)."""
    problems = []
    for m in read_catalog(catalog_path(language, locales_dir)):
        if not m.id:
            continue
        if not (m.string or "").strip():
            problems.append(Problem(language, "untranslated", m.id))
        elif m.fuzzy:
            problems.append(Problem(language, "fuzzy", m.id))
    return problems


_CODE = re.compile(r"`[^`]+`")
_FORMULA = re.compile(r"\$[^$]+\$")
_FIELD = re.compile(r"\{[^{}]*\}")


def markup(text: str) -> dict[str, list[str]]:
    """What a translation must carry over unchanged: code spans, ``$…$`` formulas, ``{…}`` placeholders
    (outside code and formulas). Each sorted, so a translation may reorder them."""
    code = _CODE.findall(text)
    rest = _CODE.sub(" ", text)
    formulas = _FORMULA.findall(rest)
    rest = _FORMULA.sub(" ", rest)
    return {"code": sorted(code), "formula": sorted(formulas), "placeholder": sorted(_FIELD.findall(rest))}


def markup_mismatches(language: str, locales_dir: Path = LOCALES) -> list[Problem]:
    problems = []
    for m in read_catalog(catalog_path(language, locales_dir)):
        if not m.id or not m.string or m.fuzzy:  # fuzzy: not used (and reported as such)
            continue
        want, got = markup(m.id), markup(m.string)
        for kind in want:
            if want[kind] != got[kind]:
                problems.append(Problem(language, "markup", m.id, f"{kind}: msgid {want[kind]}, msgstr {got[kind]}"))
    return problems


@dataclass(frozen=True)
class Term:
    en: str
    expected: dict[str, tuple[str, ...]]  # language → accepted strings (any one must occur in the msgstr)

    def pattern(self) -> re.Pattern:
        word = re.escape(self.en) + "(?:e?s)?"  # key, keys; batch, batches
        if self.en.endswith("y"):
            word = f"(?:{word}|{re.escape(self.en[:-1])}ies)"  # query, queries
        return re.compile(rf"(?<![\w-]){word}(?![\w-])", re.IGNORECASE)


def read_glossary(path: Path = GLOSSARY) -> list[Term]:
    """The glossary's rows. The check strings: ``check_<language>`` when given ("|" between alternatives),
    else the translation up to any parenthesis ("查詢 (query)" → "查詢")."""
    terms = []
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            expected = {}
            for language in TRANSLATED:
                check = (row.get(f"check_{language}") or "").strip()
                expected[language] = tuple(
                    s.strip() for s in (check.split("|") if check else [row[language].split("(")[0]]) if s.strip()
                )
            terms.append(Term(row["en"].strip(), expected))
    return terms


def glossary_terms_in(text: str, terms: list[Term]) -> list[Term]:
    """The glossary terms used in ``text`` (outside code spans, formulas and placeholders), longest first; a
    term inside a longer one found there does not count ("key" in "key padding mask", "attention" in
    "self-attention")."""
    text = _FIELD.sub(" ", _FORMULA.sub(" ", _CODE.sub(" ", text)))  # not in code, formulas, placeholders
    taken: list[tuple[int, int]] = []
    found = []
    for term in sorted(terms, key=lambda t: len(t.en), reverse=True):
        hit = False
        for match in term.pattern().finditer(text):
            if any(a <= match.start() and match.end() <= b for a, b in taken):
                continue
            taken.append(match.span())
            hit = True
        if hit:
            found.append(term)
    return found


def glossary_misses(language: str, locales_dir: Path = LOCALES, glossary: Path = GLOSSARY) -> list[Problem]:
    """Translated msgids that use a glossary term whose Chinese term their msgstr does not contain."""
    terms = read_glossary(glossary)
    problems = []
    for m in read_catalog(catalog_path(language, locales_dir)):
        if not m.id or not m.string or m.fuzzy:
            continue
        for term in glossary_terms_in(m.id, terms):
            accepted = term.expected[language]
            if accepted and not any(a.lower() in m.string.lower() for a in accepted):
                problems.append(Problem(language, "glossary", m.id, f"{term.en} → {' | '.join(accepted)}"))
    return problems


def check(locales_dir: Path = LOCALES, template: Path = TEMPLATE) -> list[Problem]:
    """Every problem the i18n tests look for."""
    problems = stale_template(template)
    for language in TRANSLATED:
        problems += out_of_sync(language, locales_dir, template)
        problems += untranslated(language, locales_dir)
        problems += markup_mismatches(language, locales_dir)
        problems += glossary_misses(language, locales_dir)
    return problems


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "extract":
        print(f"wrote {extract().relative_to(REPO)}")
    elif command == "update":
        extract()
        update()
        print("updated locales/messages.pot and " + ", ".join(str(catalog_path(x).relative_to(REPO)) for x in TRANSLATED))
    elif command == "check":
        problems = check()
        for p in problems:
            print(p)
        kinds = sorted({p.kind for p in problems})
        print(f"{len(problems)} problem(s)" + (f": {', '.join(kinds)}" if kinds else ""))
        return 1 if problems else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
