"""Attention snapshots on the pages (AppTest): the Train page's step slider, the probe input, the GIF and the
Attention maps page opening a saved run's snapshots."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.test_pages_train_generate import (  # noqa: F401
    assets,  # noqa: F401  (the fixture env needs)
    env,
    last_status,
    open_page,
    page_file,
    poll,
    stop_runs,
)
from tests.test_pages_translation import chart_rows
from trainers.presets import preset_config
from trainers.snapshots import load_snapshots
from trainers.trainer import Trainer
from ui.snapshots import loss_marker_frame, snapshot_gif, summary_frame


def heatmap(at) -> tuple[dict, list[dict]]:
    """The facet heatmap of the snapshot section (the only faceted chart on the Train page): spec and cells."""
    element = next(c for c in at.get("vega_lite_chart") if "facet" in json.loads(c.proto.spec))
    return json.loads(element.proto.spec), chart_rows(element)


def marker(at) -> tuple[int, float]:
    """The step and loss the snapshot section's loss chart marks (its title says them, its red dot shows them)."""
    for chart in at.get("vega_lite_chart"):
        title = json.dumps(json.loads(chart.proto.spec).get("title", ""), ensure_ascii=False)
        found = re.search(r"Training loss · step (\d+): ([\d.]+)", title)
        if found:
            rows = [r for r in chart_rows(chart) if set(r) == {"step", "loss"}]
            assert {"step": int(found[1]), "loss": pytest.approx(float(found[2]), abs=1e-3)} in rows
            return int(found[1]), float(found[2])
    raise AssertionError("no loss chart with a marked step")


def test_slider_moves_between_steps_and_the_heatmaps_follow(env, tmp_path):  # noqa: F811
    at = open_page(page_file("Train"))
    assert at.text_input(key="train_probe_addsub").value == "-30 - -34"
    at.button(key="train_start").click().run()
    try:
        poll(at, lambda a: last_status(a) == "finished")
        record = at.session_state["train_runs"][-1]
        assert record.config.snapshot_every == 1 and record.config.probe == "-30 - -34"
        key = f"train_snap_{record.run_id}_step"
        slider = at.select_slider(key=key)
        assert slider.value == 60  # the last snapshot: the trained model
        (last_spec, last_cells), last_marker = heatmap(at), marker(at)
        assert "after step 60" in json.dumps(last_spec["title"])
        slider.set_value(1).run()
        assert not at.exception
        (first_spec, first_cells), first_marker = heatmap(at), marker(at)
        assert "after step 1" in json.dumps(first_spec["title"])
        assert first_cells != last_cells
        assert first_marker[0] == 1 and last_marker[0] == 60
        assert first_marker[1] > last_marker[1]
        snaps = load_snapshots(record.checkpoint)  # saved by the worker beside the checkpoint
        cells = [r["value"] for r in sorted(first_cells, key=lambda r: (r["r"], r["c"])) if r["head"] == "head 1"]
        np.testing.assert_allclose(cells, snaps.weights[0]["cross"][0, 0].ravel(), atol=1e-6)

        at.toggle(key=f"train_snap_{record.run_id}_play").set_value(True).run()  # Play: one snapshot further
        assert at.select_slider(key=key).value == 2
        at.toggle(key=f"train_snap_{record.run_id}_play").set_value(False).run()
        assert at.select_slider(key=key).value == 2

        folder = Path(at.session_state["train_runs"][-1].checkpoint)
        assert snaps.steps[0] == 1 and snaps.steps[-1] == 60
    finally:
        stop_runs(at)

    at.session_state["open_in_attention"] = str(folder)  # what "Open in Attention maps" sets
    at.switch_page(page_file("Attention maps")).run()
    assert not at.exception
    assert at.select_slider(key="att_snapshots_step").value == 60
    assert any("after step 60" in json.dumps(json.loads(c.proto.spec).get("title", ""))
               for c in at.get("vega_lite_chart"))


def test_probe_input_bad_addsub_probe_and_lstm(env):  # noqa: F811
    at = open_page(page_file("Train"))
    at.text_input(key="train_probe_addsub").set_value("seven plus two").run()
    assert any("The probe cannot be read" in e.value for e in at.error)
    at.button(key="train_start").click().run()
    assert not at.exception
    assert "train_runs" not in at.session_state or not at.session_state["train_runs"]
    at.selectbox(key="train_task").set_value("shakespeare").run()
    at.radio(key="train_arch").set_value("lstm").run()
    assert not at.exception
    assert any("the LSTM has no attention" in c.value for c in at.caption)


def test_gif_summary_and_marker(tmp_path):
    config = preset_config("addsub", "tiny", tensorboard=False, out_dir=str(tmp_path), final_eval=False,
                           max_steps=12, snapshot_every=4)
    trainer = Trainer(config)
    trainer.fit()
    snaps = trainer.snapshots
    gif = Image.open(io.BytesIO(snapshot_gif(snaps, "cross", 0, 1, title="cross")))
    assert gif.format == "GIF" and gif.n_frames == len(snaps) == 4
    frame = summary_frame(snaps, "cross", 0)
    assert set(frame["measure"]) == {"entropy (nats)", "on the best monotonic alignment"}
    assert len(frame) == 2 * 4 * 2 and set(frame["head"]) == {1, 2}  # measures × snapshots × heads
    assert set(summary_frame(snaps, "encoder_self", 0)["measure"]) == {"entropy (nats)"}
    curve, point = loss_marker_frame([(1, 3.0), (2, 2.5), (3, 2.0)], 2)
    assert point == {"step": 2, "loss": 2.5} and len(curve) == 3
