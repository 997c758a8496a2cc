"""Numerical equivalence with the official SeViLA code, run on tiny random weights (tests/fixtures/oracle).

The official state dict goes through our public paths only: `sevila import-checkpoint` writes the backbone
folder and the heads file, `load_blip2` + `SeViLA` + `load_all_heads` load them, `qa_prompts` builds the texts
from the recorded annotation record. The model is then compared with three recorded official runs:
(a) the forward chain, (b) a Localizer refinement step on pseudo-labels, (c) an Answerer training step.
Run (a)'s answer logits are the official read-out, `generate().scores[1]` after the greedy first token (485 with
random weights, not `Option`): our default `readout="official"`. Run (c)'s position-1 logits are the teacher-forced
read-out: its labels [Option, A, </s>] give position 1 the decoder input [start, Option].
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from sevila.cli import main as sevila_main
from sevila import prompts
from sevila.model.backbone import load_blip2
from sevila.model.checkpoint_import import rename_lavis_key
from sevila.model.head_weights import load_all_heads
from sevila.model.sevila import ChainOutput, SeViLA
from sevila.model.tokenizer import encode_prefix

FIXTURE = Path(__file__).parents[1] / "fixtures" / "oracle"
TOL = 1e-5  # of the largest absolute value of each compared tensor; fp32 noise here is ~1e-6 of it
PERTURBATION = 0.1  # added to one weight element in the negative controls (those weights have std ~0.07-0.18)
FAILS_BY = 10  # ... which must then miss by at least this many tolerances (measured: ~26x and ~125x)
KEY_BIAS_ATOL = 1e-6  # Q-Former key.bias gradients are 0 (softmax ignores a per-query constant); stored ~1e-9 noise
NUM_OPTIONS = torch.tensor([5])


# The calls into the model, kept in one place so that API changes touch only these helpers.
def encode(model: SeViLA, frames: Tensor) -> Tensor:
    """Raw ViT features (1, T, P, Dv) of the recorded frames."""
    return model.encode_frames(frames)


def forward_chain(
    model: SeViLA, raw: Tensor, qa: prompts.Prompts, answer: int | None = None, readout: str = "official"
) -> ChainOutput:
    """Localizer -> top-k keyframes -> Answerer on one question (run a); with `answer`, also its loss (run c)."""
    answers = None if answer is None else torch.tensor([answer])
    return model(raw, [qa.answerer], [qa.localizer], NUM_OPTIONS, answers=answers, readout=readout)


def greedy_first_answer_token(model: SeViLA, raw_keyframes: Tensor, qa: prompts.Prompts) -> int:
    """The Answerer's greedy step-0 token on the keyframes (what generate() emits first)."""
    embeds, mask = model.answerer._keyframe_inputs(raw_keyframes, [qa.answerer])
    return int(model.language.decoder_logits(embeds, mask, [model.language.start_id])[0, 0].argmax())


def localizer_scores(model: SeViLA, raw: Tensor, qa: prompts.Prompts) -> Tensor:
    """Yes-logit of each candidate frame, (1, T)."""
    return model.localizer(raw, [qa.localizer])


def answerer_per_frame(model: SeViLA, raw: Tensor, qa: prompts.Prompts) -> Tensor:
    """Option logits (1, T, 5) from each frame alone (run b's frozen Answerer)."""
    return model.answerer.per_frame(raw, [qa.answerer], NUM_OPTIONS)


def pseudo_labels(model: SeViLA, raw: Tensor, qa: prompts.Prompts, answer: int) -> Tensor:
    """Reverse-chain labels (1, T), True = yes (run b)."""
    return model.pseudo_labels(raw, [qa.answerer], NUM_OPTIONS, torch.tensor([answer]))


def localizer_loss(model: SeViLA, raw: Tensor, qa: prompts.Prompts, labels: Tensor) -> Tensor:
    """T5 loss of the Localizer on per-frame yes/no targets (run b)."""
    return model.localizer.loss(raw, [qa.localizer], labels)[0]


def mismatch(actual: Tensor, expected: Any) -> float:
    """Largest absolute difference relative to the largest absolute expected value."""
    reference = torch.as_tensor(expected, dtype=torch.float32)
    return ((actual.detach().float() - reference).abs().max() / reference.abs().max()).item()


def grad_mismatches(model: SeViLA, recorded: dict[str, Tensor]) -> dict[str, float]:
    """Per recorded LAVIS parameter: relative gradient mismatch, or absolute for the key biases (see KEY_BIAS_ATOL)."""
    params = dict(model.named_parameters())
    result = {}
    for lavis_name, expected in recorded.items():
        ours = params[rename_lavis_key(lavis_name)].grad
        difference = (ours - expected).abs().max().item()
        result[lavis_name] = difference if lavis_name.endswith("key.bias") else difference / expected.abs().max().item()
    return result


def assert_gradients_match(model: SeViLA, grads_file: str) -> None:
    recorded = torch.load(FIXTURE / grads_file, weights_only=True)
    with_grad = {name for name, p in model.named_parameters() if p.grad is not None}
    assert with_grad == {rename_lavis_key(name) for name in recorded}
    for name, value in grad_mismatches(model, recorded).items():
        assert value <= (KEY_BIAS_ATOL if name.endswith("key.bias") else TOL), (name, value)


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The official state dict through `sevila import-checkpoint`: a backbone folder and the heads file."""
    out = tmp_path_factory.mktemp("oracle")
    backbone, heads = out / "backbone", out / "heads.safetensors"
    args = ["import-checkpoint", "--lavis", str(FIXTURE / "state_dict.pt"), "--output", str(heads)]
    args += ["--backbone-output", str(backbone), "--config", str(FIXTURE / "blip2_config.json")]
    assert sevila_main([*args, "--tokenizer", str(FIXTURE / "tokenizer")]) == 0
    return backbone, heads


@pytest.fixture
def model(converted: tuple[Path, Path]) -> SeViLA:
    backbone, heads = converted
    sevila = SeViLA(load_blip2(backbone), num_keyframes=4)
    assert load_all_heads(sevila, heads) == ["localizer", "answerer"]
    return sevila.eval()


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    return json.loads((FIXTURE / "outputs.json").read_text())


@pytest.fixture(scope="module")
def record() -> dict[str, Any]:
    return json.loads((FIXTURE / "prompts.json").read_text())


@pytest.fixture(scope="module")
def qa(record: dict[str, Any]) -> prompts.Prompts:
    annotation = record["annotation"]
    return prompts.qa_prompts(annotation["question"], [annotation[f"a{i}"] for i in range(annotation["num_option"])])


@pytest.fixture(scope="module")
def frames() -> Tensor:
    return torch.load(FIXTURE / "frames.pt", weights_only=True)["frames"]  # (1, 32, 3, 32, 32)


def test_official_prompts_are_rebuilt_from_the_annotation(record: dict[str, Any], qa: prompts.Prompts) -> None:
    assert (qa.answerer, qa.localizer) == (record["qa_input"], record["loc_input"])
    assert prompts.answer_target(record["annotation"]["answer"]) == record["qa_output"]
    assert [prompts.FRAME_PREFIX] == record["frame_prefix"]
    assert [prompts.multi_frame_prefix(i) for i in range(1, 5)] == record["vid_prefix"]


def test_official_token_ids(model: SeViLA, qa: prompts.Prompts, recorded: dict[str, Any]) -> None:
    ids = json.loads((FIXTURE / "token_ids.json").read_text())
    language, tokenizer = model.language, model.language.tokenizer
    assert language.frame_prefix_ids == ids["frame_prefix_no_special"]["input_ids"][0] == [15, 357, 345]
    vid_prefixes = [encode_prefix(tokenizer, prompts.multi_frame_prefix(i)) for i in range(1, 5)]
    assert vid_prefixes == ids["vid_prefix_no_special"]["input_ids"]
    assert language.tokenize([qa.answerer])[0].tolist() == ids["qa_input"]["input_ids"]
    assert language.tokenize([qa.localizer])[0].tolist() == ids["loc_input"]["input_ids"]
    assert tokenizer([prompts.answer_target(0)]).input_ids == ids["qa_output"]["input_ids"] == [[19, 40, 1]]
    targets = tokenizer(["yes", "no"], padding="longest").input_ids
    assert targets == ids["pseudo_label_yes"]["input_ids"] + ids["pseudo_label_no"]["input_ids"] == [[47, 1], [46, 1]]
    token_ids = recorded["token_ids"]
    assert (language.yes_id, language.no_id) == (token_ids["yes_id"], token_ids["no_id"]) == (47, 46)
    assert language.option_ids == token_ids["answer_id"] == [40, 41, 39, 31, 62]
    assert language.option_word_id == ids["qa_output"]["input_ids"][0][0]


def test_official_norm_eps_and_exact_gelu(model: SeViLA) -> None:
    assert model.answerer.head.layernorm.eps == model.localizer.head.layernorm.eps == 1e-5  # LAVIS ln_vision(_loc)
    assert model.vision_model.encoder.layers[0].layer_norm1.eps == 1e-6  # EVA blocks
    x = torch.linspace(-4.0, 4.0, 161)
    assert not torch.equal(F.gelu(x), F.gelu(x, approximate="tanh"))  # the check below can tell the two apart
    assert torch.equal(model.language_model.encoder.block[0].layer[1].DenseReluDense.act(x), F.gelu(x))
    assert torch.equal(model.vision_model.encoder.layers[0].mlp.activation_fn(x), F.gelu(x))


def test_official_run_a_localizer_scores_and_keyframes(model: SeViLA, qa, frames, recorded) -> None:
    with torch.no_grad():
        out = forward_chain(model, encode(model, frames), qa)
    assert mismatch(out.frame_scores[0], recorded["a_generate"]["loc_yes_scores"]) <= TOL
    assert out.keyframe_indices.tolist() == recorded["a_generate"]["selected_frame_idx"] == [[0, 3, 5, 7]]


def test_official_run_a_answer_logits_are_the_official_read_out(model: SeViLA, qa, frames, recorded) -> None:
    run = recorded["a_generate"]
    with torch.no_grad():
        raw = encode(model, frames)
        out = forward_chain(model, raw, qa)  # readout="official", the default
        forced = forward_chain(model, raw, qa, readout="teacher_forced")
        first = greedy_first_answer_token(model, raw[:, out.keyframe_indices[0]], qa)
    assert first == run["qa_generated_sequence"][0][1] == 485 != model.language.option_word_id
    assert mismatch(out.option_logits, run["answer_logits"]) <= TOL
    assert out.option_logits.argmax(-1).tolist() == run["pred_answer_index"] == [2]
    assert mismatch(forced.option_logits, run["answer_logits"]) > FAILS_BY * TOL  # the other read-out misses it


def test_official_run_b_per_frame_answers_and_pseudo_labels(model: SeViLA, qa, frames, recorded) -> None:
    run = recorded["b_train_loc"]
    with torch.no_grad():
        raw = encode(model, frames)
        logits = answerer_per_frame(model, raw, qa)[0]
    assert mismatch(logits, run["answerer_per_frame_answer_logits"]) <= TOL
    assert logits.argmax(-1).tolist() == run["answerer_per_frame_pred"]
    labels = pseudo_labels(model, raw, qa, run["gt_answer_index"])
    assert ["yes" if label else "no" for label in labels[0].tolist()] == run["pseudo_labels"]
    assert 0 < int(labels.sum()) < labels.numel()  # both kinds, so a flipped rule would show


def test_official_run_b_localizer_loss_and_gradients(model: SeViLA, qa, frames, recorded) -> None:
    run = recorded["b_train_loc"]
    model.train()
    with torch.no_grad():
        raw = encode(model, frames)
    labels = torch.tensor([[label == "yes" for label in run["pseudo_labels"]]])
    loss = localizer_loss(model, raw, qa, labels)
    assert mismatch(loss, run["loss"]) <= TOL
    loss.backward()
    assert_gradients_match(model, "grads_b_train_loc.pt")


def test_official_run_c_answerer_logits_loss_and_gradients(model: SeViLA, qa, frames, recorded, record) -> None:
    run = recorded["c_train_qa_with_loc"]
    model.train()
    with torch.no_grad():
        raw = encode(model, frames)
        plain = forward_chain(model, raw, qa, readout="teacher_forced")  # the teacher-forced read-out, no answers
    answer = record["annotation"]["answer"]  # 0, target `Option A`
    chain = forward_chain(model, raw, qa, answer)  # the training call of stage 2: selection under no-grad, loss
    assert chain.keyframe_indices.tolist() == plain.keyframe_indices.tolist() == [run["selected_frame_idx"]]
    assert mismatch(chain.loss, run["loss"]) <= TOL
    assert mismatch(chain.option_logits, run["answer_logits_pos1"]) <= TOL
    assert mismatch(plain.option_logits, run["answer_logits_pos1"]) <= TOL  # the teacher-forced read-out is the same
    assert chain.option_logits.argmax(-1).tolist() == torch.tensor(run["answer_logits_pos1"]).argmax(-1).tolist() == [4]
    chain.loss.backward()
    assert_gradients_match(model, "grads_c_train_qa_with_loc.pt")


NEGATIVE_CONTROLS = (
    "localizer.head.qformer.encoder.layer.0.crossattention.attention.query.weight",
    "vision_model.embeddings.patch_embedding.weight",
)


@pytest.mark.parametrize("weight", NEGATIVE_CONTROLS)
def test_official_comparison_fails_when_one_weight_is_off(model: SeViLA, qa, frames, recorded, weight: str) -> None:
    with torch.no_grad():
        model.get_parameter(weight).view(-1)[0] += PERTURBATION
        scores = localizer_scores(model, encode(model, frames), qa)[0]
    assert mismatch(scores, recorded["a_generate"]["loc_yes_scores"]) > FAILS_BY * TOL
