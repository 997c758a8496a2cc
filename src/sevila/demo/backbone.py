"""Pre-train the demo's tiny BLIP-2 as an image-language model on single synthetic frames.

BLIP-2 reaches SeViLA already able to see and to answer yes/no and lettered options about an image;
the tiny backbone gets the same abilities here, from single frames (never from video clips or their
event windows): the ViT, Q-Former and T5 learn (1) lettered multiple-choice answers about a frame that
shows a coloured shape and (2) yes/no on "a <colour> <shape> appears" for any frame. The result is saved
with `save_pretrained` and later loaded through the same `from_pretrained` path as the real BLIP-2.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor
from transformers import Blip2ForConditionalGeneration

from sevila.data.synthetic import FrameExample, SyntheticSettings, frame_examples, vocabulary
from sevila.data.synthetic_render import COLOURS, SHAPES
from sevila.data.transforms import normalize
from sevila.model import prompts
from sevila.model.backbone import parts_from_model
from sevila.model.sevila import SeViLA
from sevila.model.tiny import TinySize, tiny_config, untie_lm_head
from sevila.model.tokenizer import build_tokenizer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackboneTraining:
    """How the demo backbone is built and pre-trained."""

    size: TinySize = TinySize(image_size=32, patch_size=8, vision_width=64, vision_layers=3, qformer_width=64,
                              num_query_tokens=8, text_width=64)
    steps: int = 1500
    batch_size: int = 32
    lr: float = 1e-3
    examples: int = 6000  # distinct training frames
    seed: int = 0


def frames_tensor(examples: list[FrameExample], image_size: int) -> Tensor:
    """Frames (B, 1, 3, S, S), resized and CLIP-normalised like decoded video frames."""
    images = torch.stack([example.image for example in examples]).float()
    images = F.interpolate(images, size=(image_size, image_size), mode="bilinear", antialias=True)
    return normalize(images.round().clamp(0, 255).to(torch.uint8)).unsqueeze(1)


def yes_no_prompts(examples: list[FrameExample], rng: random.Random) -> tuple[list[str], list[str]]:
    """One statement per frame, true for about half the event frames; targets `yes`/`no`."""
    texts, targets = [], []
    for example in examples:
        colour, shape = rng.choice(list(COLOURS)), rng.choice(SHAPES)
        if example.event and rng.random() < 0.5:
            colour, shape = example.colour, example.shape
        texts.append(prompts.moment_prompt(f"a {colour} {shape} appears"))
        targets.append("yes" if example.event and (colour, shape) == (example.colour, example.shape) else "no")
    return texts, targets


def _loss(model: SeViLA, queries: Tensor, texts: list[str], targets: list[str]) -> Tensor:
    return model.language.target_loss(*model.language.per_frame_inputs(queries, texts), targets)[0]


def training_loss(model: SeViLA, examples: list[FrameExample], rng: random.Random) -> Tensor:
    """Yes/no on all frames; on event frames the answer word (grounding) and the lettered option."""
    raw = model.encode_frames(frames_tensor(examples, model.image_size))  # (B, 1, P, D)
    queries = model.answerer.head(raw.flatten(0, 1))  # (B, Q, D)
    loss = _loss(model, queries, *yes_no_prompts(examples, rng))
    events = [i for i, example in enumerate(examples) if example.event]
    if events:
        questions = [f"Question: {examples[i].question}" for i in events]
        words = [examples[i].options[examples[i].answer].rstrip(".") for i in events]
        lettered = [prompts.qa_prompts(examples[i].question, examples[i].options).answerer for i in events]
        letters = [prompts.answer_target(examples[i].answer) for i in events]
        loss = loss + _loss(model, queries[events], questions, words) + _loss(model, queries[events], lettered, letters)
    return loss


@torch.no_grad()
def heldout_accuracy(model: SeViLA, examples: list[FrameExample], seed: int) -> dict[str, float]:
    """Percent right on unseen frames: lettered answers (event frames) and yes/no statements (all)."""
    rng = random.Random(seed)
    raw = model.encode_frames(frames_tensor(examples, model.image_size))
    queries = model.answerer.head(raw.flatten(0, 1))
    texts, targets = yes_no_prompts(examples, rng)
    embeds, mask = model.language.per_frame_inputs(queries, texts)
    scores = model.language.decoder_logits(embeds, mask, [model.language.start_id])[:, 0]
    said_yes = scores[:, model.language.yes_id] > scores[:, model.language.no_id]
    yes_no = sum(bool(y) == (t == "yes") for y, t in zip(said_yes, targets)) / len(targets)
    events = [i for i, example in enumerate(examples) if example.event]
    qa_texts = [prompts.qa_prompts(examples[i].question, examples[i].options).answerer for i in events]
    option_logits = model.language.option_logits(*model.language.per_frame_inputs(queries[events], qa_texts))
    answers = torch.tensor([examples[i].answer for i in events])
    qa = (option_logits.argmax(-1) == answers).float().mean().item()
    return {"yes_no_accuracy": round(100 * yes_no, 2), "option_accuracy": round(100 * qa, 2)}


def _write_back(model: SeViLA, blip2: Blip2ForConditionalGeneration) -> None:
    """Copy the trained shared head into BLIP-2's own Q-Former, queries, projection and ln_vision."""
    head = model.answerer.head
    blip2.qformer.load_state_dict(head.qformer.state_dict())
    blip2.language_projection.load_state_dict(head.language_projection.state_dict())
    blip2.vision_model.post_layernorm.load_state_dict(head.layernorm.state_dict())
    with torch.no_grad():
        blip2.query_tokens.copy_(head.query_tokens)


def pretrain_backbone(output_dir: str | Path, training: BackboneTraining = BackboneTraining()) -> dict[str, float]:
    """Build, pre-train and `save_pretrained` the demo backbone; returns held-out accuracies."""
    torch.manual_seed(training.seed)
    tokenizer = build_tokenizer(vocabulary())
    blip2 = Blip2ForConditionalGeneration(tiny_config(len(tokenizer), training.size))
    untie_lm_head(blip2)
    model = SeViLA(parts_from_model(blip2, tokenizer, str(output_dir))).requires_grad_(True).train()
    world = SyntheticSettings(seed=training.seed + 1)
    train_set = frame_examples(world, training.examples, seed=training.seed)
    heldout = frame_examples(world, 256, seed=training.seed + 10_000)
    trained = [p for name, p in model.named_parameters() if not name.startswith("localizer.")]
    optimizer = torch.optim.AdamW(trained, lr=training.lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=training.lr, total_steps=training.steps)
    rng = random.Random(training.seed)
    for step in range(training.steps):
        loss = training_loss(model, rng.sample(train_set, training.batch_size), rng)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 100 == 0 or step == training.steps - 1:
            log.info("demo backbone: step %d/%d loss %.4f", step + 1, training.steps, loss.item())
    model.eval()
    accuracy = heldout_accuracy(model, heldout, seed=training.seed + 1)
    _write_back(model, blip2)
    blip2.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    log.info("demo backbone: held-out %s, saved to %s", accuracy, output_dir)
    return accuracy
