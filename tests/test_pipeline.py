"""`sevila.Pipeline` on real encoded videos with the tiny backbone: the chain's answers, batched and single."""

from __future__ import annotations

import pytest
import torch
from profile_factory import perturbed_heads
from video_factory import write_indexed_video

import sevila.inference
from sevila import Pipeline, Question
from sevila.errors import SevilaError
from sevila.model.keyframes import top_k_keyframes

OPTIONS = ["red", "blue", "green", "circle", "square"]


@pytest.fixture
def pipe(lively_backbone_dir):
    return Pipeline(perturbed_heads(lively_backbone_dir))


@pytest.fixture
def videos(tmp_path):
    return [write_indexed_video(tmp_path / f"v{i}.mp4", num_frames=40 + 8 * i, fps=10, size=(64, 48))
            for i in range(2)]


def test_pipeline_answer_is_the_chain_read_out(pipe, videos):
    result = pipe(videos[0], "what is the color", OPTIONS[:3], num_frames=8, num_keyframes=3)
    assert len(result.option_probs) == 3 and abs(sum(result.option_probs) - 1) < 1e-5
    assert result.answer == max(range(3), key=result.option_probs.__getitem__)
    assert result.answer_text == OPTIONS[result.answer]
    assert result.frame_indices == [2, 7, 12, 17, 22, 27, 32, 37]  # midpoints of 8 segments of 40 frames
    assert result.frame_times == [i / 10 for i in result.frame_indices]
    expected = top_k_keyframes(torch.tensor([result.frame_scores]), 3)[0].tolist()
    assert [k.position for k in result.keyframes] == expected
    assert [k.index for k in result.keyframes] == [result.frame_indices[p] for p in expected]
    assert [k.score for k in result.keyframes] == [round(result.frame_scores[p], 4) for p in expected]
    assert result.frames.shape == (8, 3, 32, 32) and result.frames.dtype == torch.uint8


def test_pipeline_batch_equals_one_question_at_a_time(pipe, videos):
    questions = [Question(videos[i % 2], f"what is the {word}", OPTIONS[: 2 + i], qid=str(i))
                 for i, word in enumerate(["color", "shape", "color is the circle", "square"])]
    batched = pipe.batch(questions, num_frames=6, num_keyframes=2, batch_size=2)
    assert [a.qid for a in batched] == ["0", "1", "2", "3"]
    for question, answer in zip(questions, batched):
        alone = pipe(question.video, question.question, question.options, num_frames=6, num_keyframes=2)
        assert answer.answer == alone.answer and answer.keyframes == alone.keyframes
        assert answer.option_probs == pytest.approx(alone.option_probs, abs=1e-5)
        assert answer.frame_scores == pytest.approx(alone.frame_scores, abs=1e-5)


def test_pipeline_batch_decodes_and_encodes_each_clip_once(pipe, videos, monkeypatch):
    decoded, encoded = [], []
    real_sample = sevila.inference.sample_frames
    monkeypatch.setattr(sevila.inference, "sample_frames", lambda path, *a, **k: decoded.append(path) or
                        real_sample(path, *a, **k))
    pipe.model.vision_model.encoder.register_forward_hook(lambda module, args, out: encoded.append(1))
    questions = [Question(videos[i % 2], "what is the color", OPTIONS[:3]) for i in range(6)]
    questions.append(Question(videos[0], "what is the color", OPTIONS[:3], span=(1.0, 2.0)))
    answers = pipe.batch(questions, num_frames=4, num_keyframes=2, batch_size=2)
    assert len(answers) == 7
    assert [str(p) for p in decoded] == [str(videos[0]), str(videos[1]), str(videos[0])]  # the span is its own clip
    assert len(encoded) == 3
    assert all(10 <= i < 20 for i in answers[-1].frame_indices)  # frames of 1.0-2.0 s at 10 fps


def test_pipeline_uniform_selection_has_no_scores(pipe, videos):
    result = pipe(videos[0], "what is the color", OPTIONS[:2], num_frames=8, num_keyframes=2, selection="uniform")
    # uniform keyframes are k frames sampled from the clip itself: the midpoints of its 2 halves (40 frames)
    assert result.frame_scores is None and [k.position for k in result.keyframes] == [0, 1]
    assert [k.index for k in result.keyframes] == result.frame_indices == [10, 30]
    assert all(k.score is None for k in result.keyframes)


@pytest.mark.parametrize(("options", "settings", "message"), [
    (["only"], {}, "1 options; give 2 to 5 answer options"),
    (["a", " "], {}, "an option is empty"),
    (["a", "b"], {"num_frames": 2, "num_keyframes": 3}, "num_keyframes 3 must be in 1..num_frames (2)"),
    (["a", "b"], {"selection": "best"}, "selection 'best'; expected one of: localizer, uniform"),
])
def test_pipeline_refuses_bad_questions_and_settings(pipe, videos, options, settings, message):
    with pytest.raises(SevilaError, match=message.replace("(", r"\(").replace(")", r"\)")):
        pipe(videos[0], "what is the color", options, **settings)


def test_pipeline_missing_video_is_one_clear_error(pipe, tmp_path):
    with pytest.raises(SevilaError, match=r"missing\.mp4: no such video file"):
        pipe(tmp_path / "missing.mp4", "what is the color", OPTIONS[:2])


def test_pipeline_from_pretrained_loads_heads_and_dtypes(tiny_backbone_dir, tmp_path):
    from sevila.model.head_weights import save_heads

    trained = perturbed_heads(tiny_backbone_dir)
    save_heads(trained, tmp_path / "heads.safetensors", ["localizer", "answerer"], "test")
    pipe = Pipeline.from_pretrained(tiny_backbone_dir, [tmp_path / "heads.safetensors"], device="cpu",
                                    language_dtype="bfloat16")
    assert pipe.device == torch.device("cpu")
    assert pipe.model.language_model.shared.weight.dtype == torch.bfloat16
    assert pipe.model.vision_model.embeddings.patch_embedding.weight.dtype == torch.float32
    assert torch.equal(pipe.model.localizer.head.query_tokens, trained.localizer.head.query_tokens)
    with pytest.raises(SevilaError, match="dtype 'int8' is not a floating-point torch dtype"):
        Pipeline.from_pretrained(tiny_backbone_dir, dtype="int8")
