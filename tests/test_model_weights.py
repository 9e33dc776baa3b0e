"""The Explore pages' trained-model mode: one head's steps equal what the model itself computes."""

from pathlib import Path

import pytest
import torch
from torch.testing import assert_close

from trainers.checkpoint import load_checkpoint
from ui.lessons.model_weights import head_projections, model_head_attention, model_supports_steps

REPO = Path(__file__).resolve().parent.parent
TEXT = "the game was released in japan , and it received very positive reviews from the critics ."


@pytest.fixture(scope="module", params=["wikitext2", "shakespeare", "gpt2"])
def loaded(request, tmp_path_factory):
    if request.param == "gpt2":
        pytest.importorskip("transformers")
        from .gpt2_folders import CONFIGS, make_gpt2_folder, train_tokenizer

        root = tmp_path_factory.mktemp("gpt2w")
        train_tokenizer(root / "tok.json")
        make_gpt2_folder(root / "m", CONFIGS[1][1], CONFIGS[1][2], root / "tok.json")
        return load_checkpoint(root / "m")
    return load_checkpoint(REPO / "assets" / request.param)


def test_every_heads_weights_equal_the_models_attention_record(loaded):
    model, meta = loaded
    assert model_supports_steps(model)
    ids = meta.encode(TEXT)[:24]
    with torch.no_grad():
        _logits, record = model(torch.tensor([ids]), return_attention=True)
    for layer in range(model.config.n_layers):
        for head in range(model.config.n_heads):
            steps, cut = model_head_attention(model, meta, TEXT, layer, head)
            assert steps.tokens == meta.token_strings(ids) and cut == (len(meta.encode(TEXT)) > 24)
            assert_close(steps.trace.weights, record.decoder_self[layer][0, head], atol=1e-5, rtol=1e-4)
            future = torch.ones(len(ids), len(ids), dtype=torch.bool).triu(1)  # the model's causal mask
            masked = steps.trace.masked_scores
            assert torch.all(masked[future] == float("-inf")) and torch.isfinite(masked[~future]).all()


def test_heads_outputs_concatenated_through_w_o_equal_the_attention_sublayer(loaded):
    model, meta = loaded
    layer = model.config.n_layers - 1
    outputs = []
    for head in range(model.config.n_heads):
        steps, _cut = model_head_attention(model, meta, TEXT, layer, head)
        outputs.append(steps.trace.output)  # (T, d_k): A V of one head
    mha = model.blocks[layer].self_attn
    x = steps.trace.x[None]  # what the layer's attention reads, (1, T, d_model)
    T = x.shape[1]
    with torch.no_grad():
        expected, _w = mha(x, mask=model.self_mask(T, 0, x.device))
        got = mha.w_o(torch.cat(outputs, dim=-1))  # Concat(head_1 … head_H) W_O
    assert_close(got[None], expected, atol=1e-5, rtol=1e-4)
    # Q, K, V of the last head are the slices of the fused projections split_heads gives it
    (w_q, _w_k, _w_v), (b_q, _b_k, _b_v) = head_projections(mha, model.config.n_heads - 1)
    assert_close(steps.trace.q, x[0] @ w_q + b_q)
    assert_close(steps.trace.q, mha.split_heads(mha.w_q(x))[0, -1], atol=1e-5, rtol=1e-5)


def test_bad_layer_head_and_empty_text_raise(loaded):
    model, meta = loaded
    with pytest.raises(ValueError, match="layer"):
        model_head_attention(model, meta, TEXT, model.config.n_layers, 0)
    with pytest.raises(ValueError, match="head"):
        model_head_attention(model, meta, TEXT, 0, model.config.n_heads)
    with pytest.raises(ValueError, match="no token"):
        model_head_attention(model, meta, "", 0, 0)


def test_attention_step_page_shows_the_models_own_weights():
    import json

    import numpy as np
    import pyarrow as pa
    from streamlit.testing.v1 import AppTest

    from ui.charts import spec_values

    path = REPO / "assets" / "wikitext2"
    model, meta = load_checkpoint(path)
    at = AppTest.from_file(str(REPO / "app_pages" / "attention_steps.py"), default_timeout=120)
    at.session_state["steps_weights"] = "model"
    at.session_state["steps_model"] = str(path)
    at.session_state["steps_text"] = "the game was released in japan"
    at.session_state["steps_layer_2"] = 2
    at.session_state["steps_head_4"] = 3
    at.run()
    assert not at.exception and not at.error
    ids = meta.encode("the game was released in japan")
    with torch.no_grad():
        _logits, record = model(torch.tensor([ids]), return_attention=True)
    expected = record.decoder_self[1][0, 2].numpy()  # layer 2, head 3
    charts = {json.loads(el.proto.spec).get("title", {}).get("text"): el for el in at.get("vega_lite_chart")}
    chart = charts["Attention weights"]  # its cells travel as named Arrow datasets (ui.charts.with_named_data)
    named = {ds.name: pa.ipc.open_stream(ds.data.data).read_all().to_pylist() for ds in chart.proto.datasets}
    rows = spec_values(json.loads(chart.proto.spec), named)
    got = np.full(expected.shape, np.nan)
    for row in rows:
        got[row["r"], row["c"]] = row["value"] if row["value"] is not None else 0.0
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert any("first 64 dimensions" in info.value for info in at.info)  # d_model 256: X is drawn in part


def test_model_multihead_is_the_layers_own_attention(loaded):
    from ui.lessons.model_weights import model_multihead

    model, meta = loaded
    ids = meta.encode(TEXT)[:24]
    with torch.no_grad():
        _logits, record = model(torch.tensor([ids]), return_attention=True)
    for layer in range(model.config.n_layers):
        res, _cut = model_multihead(model, meta, TEXT, layer)
        assert res.module is model.blocks[layer].self_attn
        assert_close(res.trace.weights[0], record.decoder_self[layer][0], atol=1e-5, rtol=1e-4)
        with torch.no_grad():
            expected, _w = res.module(res.trace.x, mask=res.mask)
        assert_close(res.trace.output, expected, atol=1e-5, rtol=1e-4)


def test_multihead_page_shows_every_head_of_the_models_layer():
    import json

    import numpy as np
    from streamlit.testing.v1 import AppTest

    from .test_model_view import chart_rows

    path = REPO / "assets" / "shakespeare"
    model, meta = load_checkpoint(path)
    text = "ROMEO: but soft"
    at = AppTest.from_file(str(REPO / "app_pages" / "multihead.py"), default_timeout=120)
    at.session_state["mha_weights"] = "model"
    at.session_state["mha_model"] = str(path)
    at.session_state["mha_text"] = text
    at.session_state["mha_layer_4"] = 3
    at.run()
    assert not at.exception and not at.error
    with torch.no_grad():
        _logits, record = model(torch.tensor([meta.encode(text)]), return_attention=True)
    chart = next(el for el in at.get("vega_lite_chart")
                 if "Attention weights per head" in json.dumps(json.loads(el.proto.spec).get("title", "")))
    expected = record.decoder_self[2][0].numpy()  # layer 3: (H, T, T)
    got = np.zeros_like(expected)
    for row in chart_rows(chart):
        got[int(row["head"].split()[-1]) - 1, row["r"], row["c"]] = row["value"] or 0.0
    np.testing.assert_allclose(got, expected, atol=1e-5)


def _own_block_tensors(model, ids, layer):
    """The model's own intermediate tensors in block ``layer`` during ``model(ids)``, by hooks (pre-norm)."""
    block, got = model.blocks[layer], {}

    def keep(name, pick=lambda out: out):
        return lambda _module, _inputs, out: got.__setitem__(name, pick(out).detach().clone())

    handles = [
        block.register_forward_pre_hook(lambda _m, inputs: got.__setitem__("input x", inputs[0].detach().clone())),
        block.residual1.norm.register_forward_hook(keep("LayerNorm before masked self-attention")),
        block.self_attn.register_forward_hook(keep("masked self-attention", lambda out: out[0])),
        block.residual1.register_forward_hook(keep("x + masked self-attention (residual)")),
        block.residual3.norm.register_forward_hook(keep("LayerNorm before feed-forward")),
        block.ff.linear2.register_forward_pre_hook(
            lambda _m, inputs: got.__setitem__("feed-forward hidden, after the activation", inputs[0].detach().clone())),
        block.ff.register_forward_hook(keep("feed-forward")),
        block.residual3.register_forward_hook(keep("x + feed-forward (residual)")),
        block.register_forward_hook(keep("block output", lambda out: out[0])),
    ]
    try:
        with torch.no_grad():
            model(torch.tensor([ids]))
    finally:
        for handle in handles:
            handle.remove()
    return got


def test_every_block_stage_equals_the_models_own_intermediate_tensors(loaded):
    from ui.lessons.model_weights import model_block

    model, meta = loaded
    assert model.config.norm_first  # the hooks above name pre-norm's stages
    ids = meta.encode(TEXT)[:24]
    for layer in range(model.config.n_layers):
        tokens, stages, cut = model_block(model, meta, TEXT, layer)
        assert tokens == meta.token_strings(ids) and cut == (len(meta.encode(TEXT)) > 24)
        own = _own_block_tensors(model, ids, layer)
        assert [s.name for s in stages] == list(own)  # every stage, in the model's order
        for stage in stages:
            assert_close(stage.tensor, own[stage.name], atol=1e-5, rtol=1e-5, msg=stage.name)
    # the last block's output, through the final norm, is the model's hidden state
    with torch.no_grad():
        hidden = model.hidden_states(torch.tensor([ids]))
    assert_close(model.final_norm(stages[-1].tensor), hidden, atol=1e-5, rtol=1e-5)


def test_block_page_shows_the_models_own_layer():
    import json

    import numpy as np
    from streamlit.testing.v1 import AppTest

    from ui.lessons import layer_norm_stats

    from .test_model_view import chart_rows

    path = REPO / "assets" / "shakespeare"
    model, meta = load_checkpoint(path)
    text = "ROMEO: but soft, light"  # 22 characters: not cut
    at = AppTest.from_file(str(REPO / "app_pages" / "block.py"), default_timeout=120)
    at.session_state["blk_weights"] = "model"
    at.session_state["blk_model"] = str(path)
    at.session_state["blk_text"] = text
    at.session_state["blk_layer_4"] = 3
    at.run()
    assert not at.exception and not at.error
    own = _own_block_tensors(model, meta.encode(text), 2)  # layer 3
    stats = next(df.value for df in at.dataframe if "std before" in df.value.columns)
    mean_b, std_b = layer_norm_stats(own["input x"][0])
    mean_a, std_a = layer_norm_stats(own["LayerNorm before masked self-attention"][0])
    for column, expected in (("mean before", mean_b), ("std before", std_b), ("mean after", mean_a),
                             ("std after", std_a)):
        np.testing.assert_allclose(stats[column].to_numpy(), expected.numpy(), atol=1e-5)
    table = next(df.value for df in at.dataframe if "stage" in df.value.columns and "max" in df.value.columns)
    assert list(table["block"]) == ["layer 3"] * len(own)
    for (_name, tensor), mean, top in zip(own.items(), table["mean"], table["max"], strict=True):
        assert abs(mean - float(tensor.mean())) < 1e-5 and abs(top - float(tensor.max())) < 1e-5
    charts = {json.dumps(json.loads(el.proto.spec).get("title", "")): el for el in at.get("vega_lite_chart")}
    out = next(el for title, el in charts.items() if "Block output" in title)
    expected = own["block output"][0].numpy()[:, :64]  # d_model 128: the first 64 dimensions drawn
    got = np.full(expected.shape, np.nan)
    for row in chart_rows(out):
        got[row["r"], row["c"]] = row["value"]
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert any("first 64" in info.value for info in at.info)
    assert "pre-norm" in " ".join(c.value for c in at.caption) and "GELU" in " ".join(c.value for c in at.caption)


def test_block_page_keeps_the_random_knobs_across_a_model_visit():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app_pages" / "block.py"), default_timeout=120)
    at.run()
    at.slider(key="blk_d_model").set_value(32).run()
    at.segmented_control(key="blk_norm").set_value("post").run()
    at.segmented_control(key="blk_weights").set_value("model").run()
    assert not at.exception and not at.error
    assert not [s for s in at.slider if s.key == "blk_d_model"]  # the model's sizes replace the knobs
    at.segmented_control(key="blk_weights").set_value("random").run()
    assert not at.exception and not at.error and not at.warning
    assert at.slider(key="blk_d_model").value == 32 and at.segmented_control(key="blk_norm").value == "post"
