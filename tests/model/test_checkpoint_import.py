"""Importing the authors' LAVIS checkpoint: key renaming, skipped keys, clear errors, identical outputs."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from torch import Tensor

from sevila.errors import SevilaError
from sevila.cli import main as sevila_main
from sevila import prompts
from sevila.model import import_cli
from sevila.model.backbone import load_blip2
from sevila.model.checkpoint_import import convert_lavis_state_dict, import_checkpoint
from sevila.model.sevila import SeViLA
from sevila.model.head_weights import load_heads, read_heads

# The inverse mapping, written out independently of the code under test: LAVIS module -> ours, per head.
HEAD_MODULES = (
    ("Qformer{s}.bert.embeddings.LayerNorm", "qformer.layernorm"),
    ("t5_proj{s}", "language_projection"),
    ("ln_vision{s}", "layernorm"),
)
LAYER_MODULES = (  # under `Qformer{s}.bert.encoder.layer.{i}.` -> under `qformer.encoder.layer.{i}.`
    ("attention.self.query", "attention.attention.query"),
    ("attention.self.key", "attention.attention.key"),
    ("attention.self.value", "attention.attention.value"),
    ("attention.output.dense", "attention.output.dense"),
    ("attention.output.LayerNorm", "attention.output.LayerNorm"),
    ("crossattention.self.query", "crossattention.attention.query"),
    ("crossattention.self.key", "crossattention.attention.key"),
    ("crossattention.self.value", "crossattention.attention.value"),
    ("crossattention.output.dense", "crossattention.output.dense"),
    ("crossattention.output.LayerNorm", "crossattention.output.LayerNorm"),
    ("intermediate_query.dense", "intermediate_query.dense"),
    ("output_query.dense", "output_query.dense"),
    ("output_query.LayerNorm", "output_query.LayerNorm"),
)
# In a LAVIS checkpoint but not ours: frozen ViT / T5, a buffer, Q-Former text-side weights.
NOT_OURS = {
    "visual_encoder.blocks.0.attn.qkv.weight": (96, 32),
    "t5_model.shared.weight": (8, 32),
    "Qformer.bert.embeddings.position_ids": (1, 512),
    "Qformer_loc.bert.embeddings.word_embeddings.weight": (8, 32),
    "Qformer.bert.embeddings.position_embeddings.weight": (512, 32),
    "Qformer_loc.cls.predictions.bias": (8,),
    "Qformer.bert.encoder.layer.0.intermediate.dense.weight": (128, 32),
    "Qformer_loc.bert.encoder.layer.1.output.LayerNorm.weight": (32,),
}


def lavis_to_ours(num_layers: int) -> dict[str, str]:
    """Every LAVIS head key of a SeViLA checkpoint with `num_layers` Q-Former layers -> our name."""
    table = {}
    for module, s in (("answerer", ""), ("localizer", "_loc")):
        table[f"query_tokens{s}"] = f"{module}.head.query_tokens"
        pairs = [(lavis.format(s=s), ours) for lavis, ours in HEAD_MODULES]
        pairs += [
            (f"Qformer{s}.bert.encoder.layer.{i}.{lavis}", f"qformer.encoder.layer.{i}.{ours}")
            for i in range(num_layers)
            for lavis, ours in LAYER_MODULES
        ]
        for lavis, ours in pairs:
            for param in ("weight", "bias"):
                table[f"{lavis}.{param}"] = f"{module}.head.{ours}.{param}"
    return table


@pytest.fixture
def table(tiny_sevila: SeViLA) -> dict[str, str]:
    return lavis_to_ours(tiny_sevila.answerer.head.qformer.config.num_hidden_layers)


@pytest.fixture
def lavis_state(tiny_sevila: SeViLA, table: dict[str, str]) -> dict[str, Tensor]:
    """A LAVIS-named state dict of random head weights shaped like the tiny model's."""
    generator = torch.Generator().manual_seed(7)
    ours = tiny_sevila.state_dict()
    return {lavis: 0.5 * torch.randn(ours[name].shape, generator=generator) for lavis, name in table.items()}


def _save_lavis(path: Path, state: dict[str, Tensor]) -> Path:
    torch.save({"model": state, "optimizer": {"state": {}}, "epoch": 9}, path)
    return path


def _outputs(model: SeViLA, raw: Tensor) -> tuple[Tensor, Tensor]:
    qa = prompts.qa_prompts("what color is the circle", ["red", "blue", "green"])
    num_options = torch.tensor([3])
    with torch.no_grad():
        return model.localizer(raw, [qa.localizer]), model.answerer(raw[:, :2], [qa.answerer], num_options)


def test_lavis_table_covers_every_head_weight(tiny_sevila: SeViLA, table: dict[str, str]) -> None:
    heads = {k for k in tiny_sevila.state_dict() if k.startswith(("answerer.head.", "localizer.head."))}
    assert set(table.values()) == heads and len(table) == len(heads)


def test_convert_renames_every_lavis_key(tiny_sevila: SeViLA, table: dict[str, str], lavis_state: dict) -> None:
    converted = convert_lavis_state_dict(lavis_state, tiny_sevila)
    assert set(converted) == set(table.values())
    assert all(torch.equal(converted[ours], lavis_state[lavis]) for lavis, ours in table.items())


def test_convert_skips_frozen_and_text_side_keys(
    tiny_sevila: SeViLA, table: dict[str, str], lavis_state: dict, caplog: pytest.LogCaptureFixture
) -> None:
    extra = {key: torch.zeros(shape) for key, shape in NOT_OURS.items()}
    with caplog.at_level(logging.INFO, logger="sevila.model.checkpoint_import"):
        converted = convert_lavis_state_dict({**lavis_state, **extra}, tiny_sevila)
    assert set(converted) == set(table.values())
    assert "frozen ViT" in caplog.text and "frozen T5" in caplog.text and "text-side" in caplog.text


def test_import_checkpoint_matches_weights_loaded_by_our_names(
    tiny_backbone_dir: Path, tiny_sevila: SeViLA, table: dict[str, str], lavis_state: dict, tmp_path: Path
) -> None:
    lavis = _save_lavis(tmp_path / "sevila_pretrained.pth", lavis_state)
    out = import_checkpoint(lavis, tmp_path / "h.safetensors", str(tiny_backbone_dir))
    imported = SeViLA(load_blip2(tiny_backbone_dir), num_keyframes=2).eval()
    assert load_heads(imported, out, "localizer")["stage"] == "sevila_pretrained"
    load_heads(imported, out, "answerer")
    direct = SeViLA(load_blip2(tiny_backbone_dir), num_keyframes=2).eval()
    result = direct.load_state_dict({table[k]: v for k, v in lavis_state.items()}, strict=False)
    assert not result.unexpected_keys and not [k for k in result.missing_keys if ".head." in k]
    raw = tiny_sevila.encode_frames(torch.randn(1, 3, 3, 32, 32))  # (1, T, P, Dv)
    (scores, logits), (direct_scores, direct_logits) = _outputs(imported, raw), _outputs(direct, raw)
    assert torch.equal(scores, direct_scores) and torch.equal(logits, direct_logits)
    assert not torch.allclose(scores, _outputs(tiny_sevila, raw)[0])  # the import changed the weights


def test_convert_names_an_unknown_key(tiny_sevila: SeViLA, lavis_state: dict) -> None:
    unknown = "Qformer_loc.bert.encoder.layer.0.attention.self.rotary.weight"
    lavis_state[unknown] = torch.zeros(4)
    with pytest.raises(SevilaError, match=rf"1 unknown keys \({re.escape(unknown)}\)"):
        convert_lavis_state_dict(lavis_state, tiny_sevila)


def test_convert_names_a_missing_weight(tiny_sevila: SeViLA, lavis_state: dict) -> None:
    del lavis_state["t5_proj_loc.bias"]
    with pytest.raises(SevilaError, match=r"1 missing weights \(localizer\.head\.language_projection\.bias\)"):
        convert_lavis_state_dict(lavis_state, tiny_sevila)


def test_convert_names_a_misshaped_key(tiny_sevila: SeViLA, lavis_state: dict) -> None:
    lavis_state["query_tokens_loc"] = torch.zeros(1, 3, 32)
    with pytest.raises(SevilaError, match=r"1 mis-shaped keys \(query_tokens_loc \(1, 3, 32\) \(expected \(1, 4, 32"):
        convert_lavis_state_dict(lavis_state, tiny_sevila)


def test_import_checkpoint_writes_nothing_on_error(
    tiny_backbone_dir: Path, lavis_state: dict, tmp_path: Path
) -> None:
    del lavis_state["query_tokens"]
    lavis = _save_lavis(tmp_path / "bad.pth", lavis_state)
    with pytest.raises(SevilaError, match=r"bad\.pth: .*answerer\.head\.query_tokens"):
        import_checkpoint(lavis, tmp_path / "h.safetensors", str(tiny_backbone_dir))
    assert list(tmp_path.iterdir()) == [lavis]


def test_import_cli_writes_both_heads(tiny_backbone_dir: Path, lavis_state: dict, tmp_path: Path) -> None:
    lavis = _save_lavis(tmp_path / "sevila_pretrained.pth", lavis_state)
    out = tmp_path / "paper" / "sevila_pretrained.safetensors"
    args = ["import-checkpoint", "--lavis", str(lavis), "--output", str(out), "--backbone", str(tiny_backbone_dir)]
    assert sevila_main(args) == 0
    with safe_open(str(out), framework="pt") as handle:
        assert {key.split(".")[0] for key in handle.keys()} == {"localizer", "answerer"}


def test_import_cli_rejects_a_file_that_is_not_a_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "notes.pth").write_text("not a checkpoint")
    with pytest.raises(SevilaError, match=r"notes\.pth: not a readable torch checkpoint"):
        import_cli.main(["--lavis", str(tmp_path / "notes.pth"), "--output", str(tmp_path / "h.safetensors")])


def test_import_cli_rejects_a_checkpoint_without_a_state_dict(tmp_path: Path) -> None:
    torch.save({"model": [1, 2], "epoch": 3}, tmp_path / "odd.pth")
    with pytest.raises(SevilaError, match=r"odd\.pth: expected a LAVIS state dict or a checkpoint \{'model': state_dict\}"):
        import_cli.main(["--lavis", str(tmp_path / "odd.pth"), "--output", str(tmp_path / "h.safetensors")])


def test_import_cli_wants_a_safetensors_output(tmp_path: Path) -> None:
    with pytest.raises(SevilaError, match=r"expected a \.safetensors path"):
        import_cli.main(["--lavis", "x.pth", "--output", str(tmp_path / "h.ckpt")])


def test_import_checkpoint_never_loads_the_backbone_weights(
    tiny_backbone_dir: Path, table: dict[str, str], lavis_state: dict, tmp_path: Path, monkeypatch
) -> None:
    from transformers import Blip2ForConditionalGeneration

    def refuse(*args, **kwargs):
        raise AssertionError("import-checkpoint loaded the backbone's weights")

    monkeypatch.setattr(Blip2ForConditionalGeneration, "from_pretrained", refuse)
    out = import_checkpoint(_save_lavis(tmp_path / "sevila_pretrained.pth", lavis_state), tmp_path / "h.safetensors",
                            str(tiny_backbone_dir))
    monkeypatch.undo()
    tensors, metadata = read_heads(out)
    assert metadata["backbone"] == str(tiny_backbone_dir) and json.loads(metadata["modules"]) == ["localizer",
                                                                                                  "answerer"]
    assert tensors.keys() == set(table.values())
    assert all(torch.equal(tensors[ours], lavis_state[lavis]) for lavis, ours in table.items())
    model = SeViLA(load_blip2(tiny_backbone_dir))
    load_heads(model, out, "localizer")  # the shapes from the config fit the real backbone
    load_heads(model, out, "answerer")


def test_import_checkpoint_takes_a_bare_state_dict(tiny_backbone_dir: Path, lavis_state: dict, tmp_path: Path) -> None:
    nested = import_checkpoint(_save_lavis(tmp_path / "nested.pth", lavis_state), tmp_path / "n.safetensors",
                               str(tiny_backbone_dir))
    torch.save(lavis_state, tmp_path / "bare.pth")
    bare = import_checkpoint(tmp_path / "bare.pth", tmp_path / "b.safetensors", str(tiny_backbone_dir))
    (tensors, metadata), (expected, expected_metadata) = read_heads(bare), read_heads(nested)
    assert metadata == expected_metadata and tensors.keys() == expected.keys()
    assert all(torch.equal(tensors[key], expected[key]) for key in expected)


def test_import_checkpoint_shapes_blip2_flan_t5_xl_from_the_bundled_config(lavis_state: dict, tmp_path: Path) -> None:
    # Offline, with no Hugging Face cache: the full-size heads' shapes still come from the bundled config.
    with pytest.raises(SevilaError, match=r"does not fit backbone 'Salesforce/blip2-flan-t5-xl'.*420 missing weights.*"
                       r"\(32,\) \(expected \(768,\) for answerer\.head\.qformer\.layernorm\.bias\)"):
        import_checkpoint(_save_lavis(tmp_path / "tiny.pth", lavis_state), tmp_path / "h.safetensors")
    assert not (tmp_path / "h.safetensors").exists()
