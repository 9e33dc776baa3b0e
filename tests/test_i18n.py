"""Translations: the catalogs are complete and current, follow the glossary, load at run time; PNGs draw Chinese.

The checks themselves live in :mod:`ui.i18n_catalogs` (``python -m ui.i18n_catalogs check`` prints the same
list); the first tests run them on the real catalogs, the rest show on small made-up catalogs that each
check finds what it is meant to find.
"""

from __future__ import annotations

import shutil
import uuid
import warnings

import numpy as np
import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po
from matplotlib import rc_context

from app import PAGES
from trainers.presets import PRESETS
from ui import charts, fonts, i18n
from ui import i18n_catalogs as cat
from ui.diagrams import STAGE_NAMES
from ui.lessons import sentence_blocks


def _report(problems) -> str:
    shown = "\n".join(str(p) for p in problems[:40])
    more = f"\n… and {len(problems) - 40} more" if len(problems) > 40 else ""
    return f"{len(problems)} problem(s); run `python -m ui.i18n_catalogs check`:\n{shown}{more}"


# --------------------------------------------------------------------------------------------------
# The real catalogs
# --------------------------------------------------------------------------------------------------
def test_template_has_exactly_the_msgids_of_the_code():
    problems = cat.stale_template()
    assert not problems, _report(problems) + "\n(run `python -m ui.i18n_catalogs update`)"


@pytest.mark.parametrize("language", cat.TRANSLATED)
def test_catalog_has_exactly_the_template_msgids(language):
    problems = cat.out_of_sync(language)
    assert not problems, _report(problems) + "\n(run `python -m ui.i18n_catalogs update`)"


@pytest.mark.parametrize("language", cat.TRANSLATED)
def test_every_msgid_is_translated(language):
    problems = cat.untranslated(language)
    assert not problems, _report(problems)


@pytest.mark.parametrize("language", cat.TRANSLATED)
def test_translations_keep_placeholders_code_and_formulas(language):
    problems = cat.markup_mismatches(language)
    assert not problems, _report(problems)


@pytest.mark.parametrize("language", cat.TRANSLATED)
def test_translations_follow_the_glossary(language):
    problems = cat.glossary_misses(language)
    assert not problems, _report(problems)


def test_strings_shown_through_variables_are_in_the_template():
    """Page titles and sections, preset descriptions and times, block stage names reach _() as variables."""
    ids = cat.msgids(cat.read_catalog(cat.TEMPLATE))
    shown = {title for _p, title, _i, _s in PAGES} | {section for *_r, section in PAGES}
    shown |= {p.description for presets in PRESETS.values() for p in presets.values()}
    shown |= {p.laptop_time for presets in PRESETS.values() for p in presets.values()}
    shown |= set(STAGE_NAMES)
    assert sorted(shown - ids) == []


def test_stage_names_cover_every_traced_stage():
    traced = set()
    for norm_first in (True, False):
        blocks = sentence_blocks(["a", "b"], d_model=8, n_heads=2, d_ff=16, norm_first=norm_first)
        traced |= {s.name for s in blocks.encoder_stages + blocks.decoder_stages}
    assert sorted(traced - set(STAGE_NAMES)) == []


def test_glossary_has_a_chinese_check_string_for_every_row():
    terms = cat.read_glossary()
    assert len(terms) >= 50
    assert {t.en for t in terms} >= {"attention", "query", "key", "value", "token", "causal mask"}
    for term in terms:
        for language in cat.TRANSLATED:
            assert term.expected[language], f"{term.en}: no {language} term"
            assert all("(" not in s for s in term.expected[language])
    query = next(t for t in terms if t.en == "query")
    assert query.expected == {"zh_Hant": ("查詢",), "zh_Hans": ("查询",)}


# --------------------------------------------------------------------------------------------------
# The checks, on made-up catalogs
# --------------------------------------------------------------------------------------------------
def _write_catalog(path, language, entries) -> None:
    """entries: (msgid, msgstr, fuzzy) each."""
    catalog = Catalog(locale=language, project=cat.PROJECT)
    for msgid, msgstr, fuzzy in entries:
        catalog.add(msgid, msgstr, flags=["fuzzy"] if fuzzy else [])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(f, catalog)


@pytest.fixture()
def dummy_locales(tmp_path):
    """A copy of the template, and both catalogs filled with a dummy translation of every msgid ("譯:" + msgid,
    which keeps placeholders, code and formulas)."""
    template = tmp_path / "messages.pot"
    shutil.copy(cat.TEMPLATE, template)
    ids = sorted(cat.msgids(cat.read_catalog(template)))
    for language in cat.TRANSLATED:
        _write_catalog(cat.catalog_path(language, tmp_path), language, [(m, "譯:" + m, False) for m in ids])
    return tmp_path, template, ids


def test_checks_pass_on_a_complete_catalog(dummy_locales):
    locales, template, ids = dummy_locales
    assert len(ids) > 400
    for language in cat.TRANSLATED:
        assert cat.out_of_sync(language, locales, template) == []
        assert cat.untranslated(language, locales) == []
        assert cat.markup_mismatches(language, locales) == []


def test_checks_find_missing_obsolete_empty_fuzzy_and_broken_entries(dummy_locales):
    locales, template, ids = dummy_locales
    with_field = next(m for m in ids[5:] if "{" in m)
    entries = [(m, "譯:" + m, False) for m in ids[3:]]  # ids[0..2]: missing
    entries += [("A msgid the code no longer has", "舊", False)]
    entries[0] = (entries[0][0], "", False)  # empty
    entries[1] = (entries[1][0], "猜測", True)  # fuzzy
    entries = [(m, s.replace("{", "(").replace("}", ")") if m == with_field else s, f) for m, s, f in entries]
    _write_catalog(cat.catalog_path("zh_Hant", locales), "zh_Hant", entries)

    sync = cat.out_of_sync("zh_Hant", locales, template)
    assert {(p.kind, p.msgid) for p in sync} == {("missing", m) for m in ids[:3]} | {
        ("obsolete", "A msgid the code no longer has")
    }
    assert [(p.kind, p.msgid) for p in cat.untranslated("zh_Hant", locales)] == [
        ("untranslated", entries[0][0]), ("fuzzy", entries[1][0])
    ]
    assert [p.msgid for p in cat.markup_mismatches("zh_Hant", locales)] == [with_field]
    assert cat.out_of_sync("zh_Hans", locales, template) == []  # the other catalog is untouched


def test_stale_template_is_found(tmp_path):
    template = tmp_path / "messages.pot"
    catalog = cat.read_catalog(cat.TEMPLATE)
    gone = next(m.id for m in catalog if m.id)
    del catalog[gone]
    catalog.add("A msgid the code never had")
    with template.open("wb") as f:
        write_po(f, catalog)
    problems = cat.stale_template(template)
    assert {(p.msgid, p.detail) for p in problems} == {
        (gone, "in the code, not in the template"),
        ("A msgid the code never had", "in the template, no longer in the code"),
    }


def test_markup_compares_placeholders_code_spans_and_formulas():
    assert cat.markup("Run `model(x)` on {n} tokens: $\\sqrt{d_k}$ and {p:.0%}") == {
        "code": ["`model(x)`"], "formula": ["$\\sqrt{d_k}$"], "placeholder": ["{n}", "{p:.0%}"]
    }
    # a translation may reorder, not change
    assert cat.markup("{b} then {a}") == cat.markup("先 {a} 再 {b}")
    assert cat.markup("`x` {n}") != cat.markup("x {n}")
    assert cat.markup("{n}") != cat.markup("{N}")


def test_glossary_check_finds_a_missing_term_and_ignores_terms_inside_longer_ones(tmp_path):
    glossary = tmp_path / "glossary.csv"
    glossary.write_text(
        "en,zh_Hant,zh_Hans,note,check_zh_Hant,check_zh_Hans\n"
        "key,鍵 (key),键 (key),,,\n"
        "key padding mask,填充遮罩 (key padding mask),填充掩码 (key padding mask),,,\n"
        "token,詞元 (token),词元 (token),,詞元|token,词元|token\n"
        "query,查詢 (query),查询 (query),,,\n",
        encoding="utf-8",
    )
    _write_catalog(cat.catalog_path("zh_Hant", tmp_path), "zh_Hant", [
        ("The key padding mask hides [PAD].", "填充遮罩 (key padding mask) 隱藏 [PAD]。", False),  # no 鍵 needed
        ("Each query meets every key.", "每個查詢都與每個鍵比較。", False),
        ("Queries and keys", "查詢與 key", False),  # plural forms count; 鍵 missing
        ("3 tokens", "3 個 token", False),  # an alternative of check_zh_Hant
        ("A token", "一個詞", True),  # fuzzy: not checked (the app shows English)
    ])
    misses = cat.glossary_misses("zh_Hant", tmp_path, glossary)
    assert [(p.msgid, p.detail) for p in misses] == [("Queries and keys", "key → 鍵")]


# --------------------------------------------------------------------------------------------------
# Run time: loading the .po files, choosing the language
# --------------------------------------------------------------------------------------------------
@pytest.fixture()
def tiny_catalogs(tmp_path, monkeypatch):
    """ui.i18n reads a temporary locales folder: "value" and "row" translated, "column" fuzzy, "Train" empty."""
    _write_catalog(cat.catalog_path("zh_Hant", tmp_path), "zh_Hant", [
        ("value", "數值", False), ("row", "列", False), ("column", "欄", True), ("Train", "", False),
    ])
    monkeypatch.setattr(i18n, "LOCALES_DIR", tmp_path)
    i18n._translations.cache_clear()
    yield tmp_path
    i18n._translations.cache_clear()


def test_translations_load_from_the_po_file_and_fall_back_to_english(tiny_catalogs):
    assert i18n.translate("value", "zh_Hant") == "數值"
    assert i18n.translate("column", "zh_Hant") == "column"  # fuzzy
    assert i18n.translate("Train", "zh_Hant") == "Train"  # empty
    assert i18n.translate("not in the catalog", "zh_Hant") == "not in the catalog"
    assert i18n.translate("value", "en") == "value"
    assert i18n.translate("value", "zh_Hans") == "value"  # no catalog in this folder


def test_cached_chart_specs_are_per_language(tiny_catalogs, monkeypatch):
    values = np.array([[0.25, 0.75], [1.0, 0.0]])
    titles = {}
    for language in ("en", "zh_Hant"):
        monkeypatch.setattr(charts.heatmaps, "current_language", lambda language=language: language)
        spec = charts.heatmap_spec(values, ("a", "b"), ("c", "d"), "same arguments")
        titles[language] = [t["title"] for t in spec["layer"][0]["encoding"]["tooltip"]]
    assert titles == {"en": ["row", "column", "value"], "zh_Hant": ["列", "column", "數值"]}


@pytest.mark.parametrize(
    ("tag", "code"),
    [
        ("zh-TW", "zh_Hant"), ("zh-HK", "zh_Hant"), ("zh-MO", "zh_Hant"), ("zh-Hant", "zh_Hant"),
        ("zh-Hant-CN", "zh_Hant"), ("zh_TW", "zh_Hant"), ("zh_Hant", "zh_Hant"),
        ("zh", "zh_Hans"), ("zh-CN", "zh_Hans"), ("zh-SG", "zh_Hans"), ("zh-Hans-HK", "zh_Hans"), ("zh_Hans", "zh_Hans"),
        ("en", "en"), ("en-GB", "en"), ("fr-FR", None), ("", None), (None, None),
        ("zh-Hant-TW", "zh_Hant"), ("ZH-tw", "zh_Hant"), ("zh-hans", "zh_Hans"), ("zh-HK", "zh_Hant"), ("en-US", "en"),
        ("de", None), ("  ", None),
    ],
)
def test_browser_locales_map_to_a_language(tag, code):
    assert i18n.negotiate_language([tag]) == code


def test_negotiation_takes_the_first_tag_with_a_catalog():
    assert i18n.negotiate_language(["fr-FR", "zh-TW", "en"]) == "zh_Hant"
    assert i18n.negotiate_language([None, "de", "en-US", "zh-CN"]) == "en"
    assert i18n.negotiate_language(i18n._accept_language("fr;q=0.5, zh-CN, en;q=0.8")) == "zh_Hans"
    assert i18n.negotiate_language(["de", "fr"]) is None
    assert i18n.negotiate_language([]) is None


def test_accept_language_header_by_preference():
    assert i18n._accept_language("fr;q=0.5, zh-TW, en;q=0.8") == ["zh-TW", "en", "fr"]
    assert i18n._accept_language("") == []


# --------------------------------------------------------------------------------------------------
# PNG exports in Chinese
# --------------------------------------------------------------------------------------------------
def _missing_glyph_warnings(draw) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        draw()
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_png_export_draws_chinese_tokens_and_title():
    if not fonts.configure_cjk_fonts():
        pytest.skip(f"no CJK font on this machine (apt-get install {fonts.DEBIAN_PACKAGE})")
    labels = ("00 注意力", "01 词元", "02 the")
    values = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    title = f"注意力權重 {uuid.uuid4().hex[:6]}"  # a new title: not served from the cache
    png = []
    assert _missing_glyph_warnings(lambda: png.append(charts.heatmap_png(values, labels, labels, title, (0.0, 1.0)))) == []
    assert png[0][:8] == b"\x89PNG\r\n\x1a\n"
    # the same figure with DejaVu Sans alone does warn: the check above can fail
    with rc_context({"font.family": ["DejaVu Sans"]}):
        title = f"注意力權重 {uuid.uuid4().hex[:6]}"
        assert _missing_glyph_warnings(lambda: charts.heatmap_png(values, labels, labels, title, (0.0, 1.0)))


def test_no_cjk_font_warns_once_with_the_package_to_install(monkeypatch):
    monkeypatch.setattr(fonts, "_listed_cjk_families", lambda: [])
    monkeypatch.setattr(fonts, "_add_unlisted_cjk_fonts", lambda: None)
    with pytest.warns(UserWarning, match="fonts-wqy-microhei"):
        assert fonts.configure_cjk_fonts.__wrapped__() == []
