"""`sevila import-checkpoint --backbone-output`: a whole LAVIS state dict -> a BLIP-2 folder, and its clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from torch import Tensor
from transformers import Blip2ForConditionalGeneration

from sevila.cli import main as sevila_main
from sevila.model.lavis_backbone import fuse_eva_qkv_bias
from sevila.model.tokenizer import build_tokenizer

ORACLE = Path(__file__).parents[1] / "fixtures" / "oracle"  # a whole official SeViLA state dict, tiny (README there)
STATE_DICT = ORACLE / "state_dict.pt"
CONFIG = ORACLE / "blip2_config.json"


@pytest.fixture(scope="module")
def lavis() -> dict[str, Tensor]:
    return torch.load(STATE_DICT, weights_only=True)


def _import(tmp_path: Path, *extra: str, lavis: Path = STATE_DICT, config: Path = CONFIG) -> int:
    args = ["import-checkpoint", "--lavis", str(lavis), "--backbone-output", str(tmp_path / "backbone")]
    return sevila_main([*args, "--config", str(config), "--tokenizer", str(ORACLE / "tokenizer"), *extra])


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("sevila import-checkpoint: error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _config_with(tmp_path: Path, part: str, **values: object) -> Path:
    config = json.loads(CONFIG.read_text())
    config[part].update(values)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path


def test_fuse_eva_qkv_bias_has_a_zero_key_bias(lavis: dict[str, Tensor]) -> None:
    fused = fuse_eva_qkv_bias(lavis)
    for block in (0, 1):
        prefix = f"visual_encoder.blocks.{block}.attn."
        q, v = lavis[prefix + "q_bias"], lavis[prefix + "v_bias"]
        assert torch.equal(fused[prefix + "qkv.bias"], torch.cat([q, torch.zeros(32), v]))
        assert prefix + "q_bias" not in fused and prefix + "v_bias" not in fused
    assert len(fused) == len(lavis) - 2


def test_backbone_output_holds_the_frozen_weights(tmp_path: Path, lavis: dict[str, Tensor]) -> None:
    assert _import(tmp_path) == 0
    model = Blip2ForConditionalGeneration.from_pretrained(tmp_path / "backbone")
    state = model.state_dict()
    pairs = {
        "language_model.lm_head.weight": "t5_model.lm_head.weight",
        "language_model.shared.weight": "t5_model.shared.weight",
        "vision_model.post_layernorm.weight": "ln_vision.weight",
        "vision_model.embeddings.class_embedding": "visual_encoder.cls_token",
        "query_tokens": "query_tokens",  # the Answerer's (unsuffixed) head is BLIP-2's own
        "qformer.encoder.layer.1.output_query.dense.weight": "Qformer.bert.encoder.layer.1.output_query.dense.weight",
        "language_projection.bias": "t5_proj.bias",
    }
    for ours, theirs in pairs.items():
        assert torch.equal(state[ours], lavis[theirs]), ours
    assert not torch.equal(state["language_model.lm_head.weight"], state["language_model.shared.weight"])  # untied
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backbone"]  # no heads file without --output


def test_backbone_output_copies_the_tokenizer_byte_for_byte(tmp_path: Path) -> None:
    assert _import(tmp_path) == 0
    for source in (ORACLE / "tokenizer").iterdir():
        assert (tmp_path / "backbone" / source.name).read_bytes() == source.read_bytes(), source.name


def test_heads_are_checked_against_the_new_backbone_only(tmp_path: Path) -> None:
    heads = tmp_path / "heads.safetensors"
    assert _import(tmp_path, "--output", str(heads), "--backbone", str(tmp_path / "never-loaded")) == 0
    with safe_open(str(heads), framework="pt") as handle:
        assert handle.metadata()["backbone"] == str(tmp_path / "backbone")
        assert {key.split(".")[0] for key in handle.keys()} == {"localizer", "answerer"}


def test_backbone_from_a_blip2_state_dict_without_localizer(tmp_path: Path, lavis: dict) -> None:
    blip2 = tmp_path / "blip2.pth"
    torch.save({k: v for k, v in lavis.items() if "_loc" not in k}, blip2)  # BLIP-2 has one head, no `_loc` twins
    assert _import(tmp_path, lavis=blip2) == 0
    assert (tmp_path / "backbone" / "config.json").is_file()


def test_a_heads_error_writes_no_backbone(tmp_path: Path, lavis: dict, capsys: pytest.CaptureFixture[str]) -> None:
    blip2 = tmp_path / "blip2.pth"
    torch.save({k: v for k, v in lavis.items() if "_loc" not in k}, blip2)
    assert _import(tmp_path, "--output", str(tmp_path / "heads.safetensors"), lavis=blip2) == 2
    assert "missing weights (localizer.head." in _one_error_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blip2.pth"]


def test_backbone_default_config_is_full_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["import-checkpoint", "--lavis", str(STATE_DICT), "--backbone-output", str(tmp_path / "backbone")]
    assert sevila_main([*args, "--tokenizer", str(ORACLE / "tokenizer")]) == 2
    line = _one_error_line(capsys)
    assert "does not fit BLIP-2 config the bundled blip2-flan-t5-xl config" in line
    assert "mis-shaped keys (Qformer.bert.embeddings.LayerNorm.bias (32,) (expected (768,) for qformer." in line
    assert list(tmp_path.iterdir()) == []


def test_backbone_shape_mismatch_names_the_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config_with(tmp_path, "vision_config", intermediate_size=128)
    assert _import(tmp_path, config=config) == 2
    line = _one_error_line(capsys)
    assert f"error: {STATE_DICT}: LAVIS checkpoint does not fit BLIP-2 config {config}: " in line
    assert "6 mis-shaped keys (visual_encoder.blocks.0.mlp.fc1.bias (139,) (expected (128,)" in line
    assert "visual_encoder.blocks.1.mlp.fc1.weight (139, 32) (expected (128, 32)" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]  # no backbone, no partial folder


def test_backbone_needs_the_frozen_weights(tmp_path: Path, lavis: dict, capsys: pytest.CaptureFixture[str]) -> None:
    trained = {k: v for k, v in lavis.items() if not k.startswith(("visual_encoder.", "t5_model."))}
    checkpoint = tmp_path / "sevila_pretrained.pth"
    torch.save({"model": trained, "epoch": 9}, checkpoint)  # a LAVIS training checkpoint keeps only trained weights
    assert _import(tmp_path, lavis=checkpoint) == 2
    line = _one_error_line(capsys)
    assert "missing weights (language_model.decoder.block.0." in line and "needs a whole state dict" in line


def test_backbone_names_an_unknown_key(tmp_path: Path, lavis: dict, capsys: pytest.CaptureFixture[str]) -> None:
    unknown = "visual_encoder.blocks.0.attn.relative_position_bias_table"
    path = tmp_path / "state_dict.pt"
    torch.save({**lavis, unknown: torch.zeros(3, 2)}, path)
    assert _import(tmp_path, lavis=path) == 2
    assert f"1 unknown keys ({unknown})" in _one_error_line(capsys)


def test_backbone_output_must_be_a_new_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "backbone").mkdir()
    (tmp_path / "backbone" / "config.json").write_text("{}")
    assert _import(tmp_path) == 2
    assert "already exists and is not an empty folder" in _one_error_line(capsys)
    assert [p.name for p in (tmp_path / "backbone").iterdir()] == ["config.json"]


def test_backbone_tokenizer_must_fit_the_vocabulary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = build_tokenizer([f"word{i}" for i in range(600)])
    big.save_pretrained(tmp_path / "big")
    args = ["import-checkpoint", "--lavis", str(STATE_DICT), "--backbone-output", str(tmp_path / "backbone")]
    assert sevila_main([*args, "--config", str(CONFIG), "--tokenizer", str(tmp_path / "big")]) == 2
    assert "tokens, but the language model of the config has 504 embeddings" in _one_error_line(capsys)
    assert not (tmp_path / "backbone").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "give --output HEADS.safetensors, --backbone-output DIR, or both"),
        (["--output", "h.safetensors", "--config", "c.json"], "use them with --backbone-output DIR"),
    ],
)
def test_import_cli_option_combinations(extra: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert sevila_main(["import-checkpoint", "--lavis", str(STATE_DICT), *extra]) == 2
    assert message in _one_error_line(capsys)


def test_backbone_config_must_be_blip2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "t5.json"
    config.write_text(json.dumps({"model_type": "t5"}))
    assert _import(tmp_path, config=config) == 2
    assert "expected a BLIP-2 config (model_type 'blip-2'), found 't5'" in _one_error_line(capsys)
