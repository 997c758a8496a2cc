"""FLOPs per question of the full-size SeViLA (blip2-flan-t5-xl), counted on the meta device.

usage: python benchmarks/flops.py

Every full-size number comes from running our real model code (SeViLA, Localizer, Answerer, PromptedT5) on
meta tensors under `torch.utils.flop_counter.FlopCounterMode`: nothing is allocated, so it takes seconds on any
machine. FlopCounterMode counts matrix products (mm, addmm, bmm, attention, convolution) and their backward;
element-wise work (norms, softmax, GELU) is not counted, and any other compute op seen is listed as uncounted.
One training question of stage 3 has n=4 frames; evaluation has n=32 candidates and k=4 keyframes.

The original's `generate()` cannot run on meta tensors (it reads token values to stop), so it is counted as the
same computation written out: one encoder pass, then one cached decoder step per generated token (steps 1-4
counted, later ones from their linear growth). A check on the tiny model shows this costs exactly as many FLOPs
as `generate()` itself.

Data-loader waits, measured against the full-size step cost counted here, are in benchmarks/loader.py.
"""

from __future__ import annotations

import argparse
import functools
import string
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
import transformers
import transformers.masking_utils
from torch import Tensor, nn
from torch._ops import OpOverload
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode, flop_registry
from transformers.cache_utils import DynamicCache, EncoderDecoderCache

from sevila import prompts
from sevila.model.backbone import load_blip2
from sevila.model.full_size import meta_sevila
from sevila.model.sevila import SeViLA
from sevila.model.tiny import build_tiny_backbone
from sevila.model.tokenizer import build_tokenizer


# A typical NExT-QA question (12 words) and five options (about 5 words each), as `prepare` writes them.
QUESTION = "why did the boy pick up the red ball at the end?"
OPTIONS = (
    "to throw it to the dog.",
    "he wanted to play catch.",
    "to put it away neatly.",
    "his mother asked him to.",
    "to show it to his friends.",
)
REFINE_FRAMES = 4  # stage 3 trains on n=4 frames per question (stages/refine_localizer.yaml)
REFINE_EPOCHS = 10
CANDIDATES, KEYFRAMES, SECOND_K = 32, 4, 8
# The original's evaluation calls `model.generate(samples)` with its defaults: greedy (num_beams=1), min_length=1,
# max_new_tokens=30; it stops once every sequence of the batch has emitted </s>. A trained model answers
# `yes </s>` (2 steps) and `Option A </s>` (3 steps); 30 is the cap.
ORIGINAL_MAX_NEW_TOKENS = 30
LOCALIZER_ANSWER_STEPS, ANSWERER_ANSWER_STEPS = 2, 3
HEAVY_OP_WORDS = ("mm", "conv", "attention", "einsum", "matmul", "linear")


class _OpRecorder(TorchDispatchMode):
    """Remembers every aten op that runs, to find compute ops that FlopCounterMode does not count."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: set[object] = set()

    def __torch_dispatch__(
        self, func: OpOverload, types: tuple, args: tuple = (), kwargs: dict | None = None
    ) -> object:
        self.ops.add(func.overloadpacket)
        return func(*args, **(kwargs or {}))


UNCOUNTED: set[str] = set()  # compute ops seen that FlopCounterMode has no formula for


def count(computation: Callable[[], object]) -> int:
    """FLOPs of running `computation` (forward, and backward if it calls it); notes uncounted compute ops."""
    with FlopCounterMode(display=False) as counter, _OpRecorder() as recorder:
        computation()
    UNCOUNTED.update(
        str(op) for op in recorder.ops if op not in flop_registry and any(w in str(op) for w in HEAVY_OP_WORDS)
    )
    return counter.get_total_flops()


@contextmanager
def masks_without_values() -> Iterator[None]:
    """Let transformers build attention masks without reading them: meta tensors hold no values.

    transformers skips its "is the mask all ones?" shortcut while tracing; treating meta tensors as traced
    makes it build the explicit mask, which changes no counted FLOPs.
    """
    module = transformers.masking_utils
    original = module.is_tracing
    module.is_tracing = lambda tensor=None: original(tensor) or (tensor is not None and tensor.device.type == "meta")
    try:
        yield
    finally:
        module.is_tracing = original


def question_words() -> list[str]:
    """The words of the sample question and options: whole pieces for the local tokenizer, as in T5's vocabulary."""
    text = " ".join((QUESTION, *OPTIONS))
    return sorted({w.strip(string.punctuation) for w in text.split()} - {""})


class FullSize:
    """The full-size SeViLA on meta and the costs of its parts for one question (each counted once)."""

    def __init__(self) -> None:
        self.model = meta_sevila(build_tokenizer(question_words()), num_keyframes=KEYFRAMES)
        self.model.train_only(()).eval()
        self.prompts = prompts.qa_prompts(QUESTION, list(OPTIONS))
        vision = self.model.vision_model.config
        self.tokens_per_frame = (vision.image_size // vision.patch_size) ** 2 + 1
        self.vision_width = vision.hidden_size
        self.num_options = torch.tensor([len(OPTIONS)])
        self.answer = torch.tensor([0])

    def raw(self, frames: int) -> Tensor:
        """Raw ViT features of one question's frames, as the feature cache would hold them."""
        return torch.empty(1, frames, self.tokens_per_frame, self.vision_width, device="meta")

    def text_tokens(self, text: str) -> str:
        """Prompt tokens after truncation, </s> included, and before it if it cut any."""
        whole = len(self.model.language.tokenizer(text).input_ids)
        kept = self.model.language.tokenize([text])[0].shape[1]
        if whole == kept:
            return f"{kept}"
        return f"{kept} (of {whole}: cut at {prompts.MAX_TEXT_TOKENS} as the original does)"

    @functools.cache
    def vit(self, frames: int) -> int:
        """ViT forward on one question's frames."""
        pixels = torch.empty(1, frames, 3, self.model.image_size, self.model.image_size, device="meta")
        return count(lambda: self.model.encode_frames(pixels))

    @functools.cache
    def localizer_scores(self, frames: int) -> int:
        """Our Localizer scoring: one encoder pass and one decoder step per frame."""
        return count(lambda: self.model.localizer(self.raw(frames), [self.prompts.localizer]))

    @functools.cache
    def answerer(self, keyframes: int) -> int:
        """Our Answerer on k keyframes: one encoder and one decoder pass on [start, Option] (the official read-out
        when the greedy first token is `Option`; meta tensors cannot tell, so other rows' second pass is left out)."""
        return count(lambda: self.model.answerer(self.raw(keyframes), [self.prompts.answerer], self.num_options,
                                                 "teacher_forced"))

    @functools.cache
    def pseudo_labels(self, frames: int) -> int:
        """The frozen Answerer on each frame alone, as stage 3 labels frames."""
        return count(
            lambda: self.model.pseudo_labels(self.raw(frames), [self.prompts.answerer], self.num_options, self.answer)
        )

    @functools.cache
    def localizer_training(self, frames: int) -> tuple[int, int]:
        """Forward and backward of the Localizer's loss on per-frame yes/no targets (gradients reach only its head)."""
        self.model.train_only(("localizer",))
        self.model.localizer.train()
        labels = torch.tensor([[index % 2 == 0 for index in range(frames)]])
        losses: list[Tensor] = []
        try:
            raw = self.raw(frames)
            forward = count(lambda: losses.append(self.model.localizer.loss(raw, [self.prompts.localizer], labels)[0]))
            backward = count(lambda: losses[0].backward())
        finally:
            self.model.train_only(()).eval()
        return forward, backward

    @functools.cache
    def localizer_generate(self, frames: int) -> DecodingCost:
        """The original's Localizer scoring: the same head and inputs, then greedy `generate()`."""
        def inputs() -> tuple[Tensor, Tensor]:
            queries = self.model.localizer.head(self.raw(frames).flatten(0, 1))
            return self.model.language.per_frame_inputs(queries, [self.prompts.localizer] * frames)

        return count_decoding(self.model.language_model, inputs)

    @functools.cache
    def answerer_generate(self, keyframes: int) -> DecodingCost:
        """The original's Answerer: the multi-frame input, then greedy `generate()` (the letter is its 2nd token)."""
        def inputs() -> tuple[Tensor, Tensor]:
            queries = self.model.answerer.head(self.raw(keyframes).flatten(0, 1)).unsqueeze(0)
            return self.model.language.multi_frame_inputs(queries, [self.prompts.answerer])

        return count_decoding(self.model.language_model, inputs)


class GreedyDecoding:
    """Greedy decoding written out as `generate()` runs it: one encoder pass, then one cached decoder step per token."""

    def __init__(self, language_model: nn.Module, embeds: Tensor, mask: Tensor) -> None:
        self.language_model, self.mask = language_model, mask
        self.encoded = language_model.get_encoder()(inputs_embeds=embeds, attention_mask=mask)
        self.cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
        start = language_model.config.decoder_start_token_id
        self.token = torch.full((embeds.shape[0], 1), start, device=embeds.device)

    def step(self) -> None:
        """Decode one more token from the cached keys and values."""
        out = self.language_model(
            encoder_outputs=self.encoded, attention_mask=self.mask, decoder_input_ids=self.token, cache=self.cache,
            use_cache=True,
        )
        self.cache, self.token = out.cache, out.logits[:, -1].argmax(dim=-1, keepdim=True)


@dataclass(frozen=True)
class DecodingCost:
    """FLOPs of the encoder pass (with what builds its input) and of the first decoder steps, each counted."""

    encoder: int
    steps: tuple[int, ...]  # steps 1-4; step 1 also projects the encoder output into every layer's cross-attention

    def total(self, steps: int) -> int:
        """Encoder + `steps` decoder steps; from step 2 on, each costs `growth` more (attention over one more token)."""
        first, *later = self.steps
        growth = later[1] - later[0]
        if later[2] - later[1] != growth:
            raise ValueError(f"decoder steps 2-4 do not grow linearly: {self.steps}")
        return self.encoder + first + sum(later[0] + growth * index for index in range(steps - 1))


def count_decoding(language_model: nn.Module, inputs: Callable[[], tuple[Tensor, Tensor]]) -> DecodingCost:
    """Count the encoder pass and decoder steps 1-4 one by one; later steps follow from their linear growth.

    Counting all 30 steps on meta would take half a minute; `tiny_generate_check` compares with `generate()`.
    """
    decodings: list[GreedyDecoding] = []
    encoder = count(lambda: decodings.append(GreedyDecoding(language_model, *inputs())))
    return DecodingCost(encoder, tuple(count(decodings[0].step) for _ in range(4)))


def tflops(value: int) -> str:
    """FLOPs as TFLOPs, right-aligned."""
    return f"{value / 1e12:8.2f}"


def table(title: str, rows: list[tuple[str, int]]) -> None:
    """A titled two-column table of TFLOPs."""
    print(f"\n{title}\n{'':<72}{'TFLOPs':>8}")
    for label, value in rows:
        print(f"{label:<72}{tflops(value)}")


def verdict(ratio: float, goal: float, at_least: bool) -> str:
    """A ratio against its goal: met or not."""
    met = ratio >= goal if at_least else ratio <= goal
    return f"{ratio:.2f}x (goal {'>=' if at_least else '<='} {goal}x: {'met' if met else 'NOT met'})"


def report_tokens(full: FullSize) -> None:
    """The sample question and its token counts, which set the T5 encoder's share of the FLOPs."""
    language, width = full.model.language, full.model.language_model.config.d_model
    queries = full.model.answerer.head.query_tokens.shape[1]
    per_frame, _ = language.per_frame_inputs(torch.empty(1, queries, width, device="meta"), [full.prompts.localizer])
    keyframes = torch.empty(1, KEYFRAMES, queries, width, device="meta")
    multi_frame, _ = language.multi_frame_inputs(keyframes, [full.prompts.answerer])
    words = sorted(len(option.split()) for option in OPTIONS)
    print(f"question ({len(QUESTION.split())} words): {QUESTION!r}; "
          f"{len(OPTIONS)} options of {words[0]}-{words[-1]} words")
    print(f"Localizer prompt: {full.text_tokens(full.prompts.localizer)} text tokens; encoder input per frame: "
          f"{per_frame.shape[1]} tokens (`Frame: `, {queries} queries, text)")
    print(f"Answerer prompt: {full.text_tokens(full.prompts.answerer)} text tokens; encoder input for k={KEYFRAMES}: "
          f"{multi_frame.shape[1]} tokens ({KEYFRAMES} x (`Frame i: `, {queries} queries), text)")
    print("(tokens from the local tokenizer holding the sample's words as whole pieces; Flan-T5's SentencePiece "
          "vocabulary is not available offline and splits this English text into about as many)")


def refinement_table(full: FullSize) -> None:
    """Table 1: a stage-3 step as the original runs it against ours with the caches filled."""
    n = REFINE_FRAMES
    vit, labels = full.vit(n), full.pseudo_labels(n)
    forward, backward = full.localizer_training(n)
    original = vit + labels + forward + backward
    ours = forward + backward
    table(f"1. Stage-3 refinement step, per training question (n={n} frames)", [
        (f"ViT forward, {n} frames", vit),
        (f"Answerer per-frame forward (pseudo-labels), {n} frames", labels),
        ("Localizer forward (head + T5 yes/no loss)", forward),
        ("Localizer backward (through the frozen T5 to the head)", backward),
        ("(a) original: everything, every step", original),
        ("(b) ours after epoch 1: feature + pseudo-label caches -> Localizer only", ours),
    ])
    print(f"(a)/(b) = {verdict(original / ours, 1.5, at_least=True)}")
    run = (original * REFINE_EPOCHS) / (original + ours * (REFINE_EPOCHS - 1))
    print(f"over the {REFINE_EPOCHS}-epoch stage (epoch 1 computes and caches everything): {run:.2f}x fewer FLOPs")


def sweep_table(full: FullSize) -> None:
    """Table 2: three evaluations of the same questions, with and without the ViT feature cache."""
    vit = full.vit(CANDIDATES)
    scores = full.localizer_scores(CANDIDATES)
    answer_k, answer_2k = full.answerer(KEYFRAMES), full.answerer(SECOND_K)
    # Uniform keyframes are k frames of their own (one per equal segment of the clip), not k of the n candidates.
    uniform = full.vit(KEYFRAMES) + answer_k
    localizer, localizer_2k = vit + scores + answer_k, vit + scores + answer_2k
    uncached = uniform + localizer + localizer_2k
    cached = uniform + vit + scores + answer_k + scores + answer_2k
    cached_scores = uniform + vit + scores + answer_k + answer_2k
    table(f"2. Evaluation sweep, per question (n={CANDIDATES} candidates)", [
        (f"ViT forward, {CANDIDATES} frames", vit),
        (f"Localizer scoring, {CANDIDATES} frames", scores),
        (f"Answerer, k={KEYFRAMES}", answer_k),
        (f"Answerer, k={SECOND_K}", answer_2k),
        (f"one evaluation: localizer k={KEYFRAMES} (ViT + Localizer + Answerer)", localizer),
        (f"without cache: uniform k={KEYFRAMES} + localizer k={KEYFRAMES} + localizer k={SECOND_K}", uncached),
        ("with the ViT feature cache: ViT once per frame + the rest", cached),
        ("with the feature cache and the Localizer scores reused for the second k", cached_scores),
    ])
    print(f"without cache / one evaluation = {uncached / localizer:.2f}x")
    print(f"with feature cache / one evaluation = {verdict(cached / localizer, 1.5, at_least=False)}")
    print(f"with feature cache and scores reused / one evaluation = {cached_scores / localizer:.2f}x")
    print(f"(uniform k={KEYFRAMES}: ViT and Answerer on its own {KEYFRAMES} frames, {tflops(uniform).strip()} TFLOPs)")


def chain_table(full: FullSize) -> None:
    """Table 3: the forward chain with our one-step scoring against the original's `generate()`."""
    vit, answer = full.vit(CANDIDATES), full.answerer(KEYFRAMES)
    one_step = full.localizer_scores(CANDIDATES)
    loc_generate, ans_generate = full.localizer_generate(CANDIDATES), full.answerer_generate(KEYFRAMES)
    ours = vit + one_step + answer
    rows: list[tuple[str, int]] = [
        (f"ViT forward, {CANDIDATES} frames (same both ways)", vit),
        (f"ours: Localizer, {CANDIDATES} frames, one decoder step (yes_scores)", one_step),
        (f"ours: Answerer, k={KEYFRAMES}, one decoder pass on [start, Option], letters at step 1", answer),
    ]
    originals = {}
    for name, loc_steps, ans_steps in (
        ("answer tokens", LOCALIZER_ANSWER_STEPS, ANSWERER_ANSWER_STEPS),
        (f"{ORIGINAL_MAX_NEW_TOKENS}-token cap", ORIGINAL_MAX_NEW_TOKENS, ORIGINAL_MAX_NEW_TOKENS),
    ):
        loc, ans = loc_generate.total(loc_steps), ans_generate.total(ans_steps)
        rows += [
            (f"original: Localizer generate(), {loc_steps} decoder steps ({name})", loc),
            (f"original: Answerer generate(), {ans_steps} decoder steps ({name})", ans),
        ]
        originals[name] = vit + loc + ans
    rows.append(("ours: whole forward chain", ours))
    rows += [(f"original: whole forward chain ({name})", total) for name, total in originals.items()]
    table(f"3. Forward chain per question (ViT {CANDIDATES} + Localizer {CANDIDATES} + Answerer {KEYFRAMES})", rows)
    for name, total in originals.items():
        print(f"original ({name}) / ours = {total / ours:.3f}x")
    shortest, longest = (loc_generate.total(n) / one_step for n in (LOCALIZER_ANSWER_STEPS, ORIGINAL_MAX_NEW_TOKENS))
    print(f"Localizer scoring alone: generate() / one step = {shortest:.3f}x ({LOCALIZER_ANSWER_STEPS} steps) "
          f"to {longest:.3f}x ({ORIGINAL_MAX_NEW_TOKENS} steps)")


def tiny_generate_check(model: SeViLA, steps: int = 6) -> str:
    """`generate()` itself counted on the tiny model (real values) against the written-out, extrapolated count."""
    text = prompts.qa_prompts("what is red", ["a circle", "a square"]).localizer
    # CPU's fused attention kernel has no FLOP formula; the math backend runs (and counts) plain matmuls.
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH):
        raw = model.encode_frames(torch.randn(1, 3, 3, model.image_size, model.image_size))
        embeds, mask = model.language.per_frame_inputs(model.localizer.head(raw.flatten(0, 1)), [text] * 3)
        generated = count(lambda: model.language_model.generate(
            inputs_embeds=embeds, attention_mask=mask, do_sample=False, num_beams=1,
            max_new_tokens=steps, min_new_tokens=steps,
        ))
        written_out = count_decoding(model.language_model, lambda: (embeds, mask)).total(steps)
    same = "equal" if generated == written_out else "DIFFERENT"
    return (f"check on the tiny model, {steps} steps: generate() {generated:,} FLOPs, "
            f"encoder + 4 counted steps extrapolated {written_out:,}: {same}")


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args()
    transformers.logging.set_verbosity_error()  # the tiny backbone's save/load chatter
    transformers.logging.disable_progress_bar()
    start = time.perf_counter()
    with masks_without_values():
        full = FullSize()
        report_tokens(full)
        refinement_table(full)
        sweep_table(full)
        chain_table(full)
    print(f"\nFLOP tables took {time.perf_counter() - start:.1f} s (meta device)")
    work = Path(tempfile.gettempdir()) / "sevila_flops_bench"
    tiny = SeViLA(load_blip2(build_tiny_backbone(work / "backbone", question_words())), num_keyframes=KEYFRAMES)
    print(tiny_generate_check(tiny.eval()))
    uncounted = ", ".join(sorted(UNCOUNTED)) or "none (every matmul, attention and convolution seen has a formula)"
    print(f"compute ops not counted: {uncounted}")
    print(f"\nbenchmarks/flops.py took {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
