"""Pre-train the demo's tiny BLIP-2 as an image-language model on single synthetic frames.

BLIP-2 reaches SeViLA already able to see and to answer yes/no and lettered options about an image;
the tiny backbone gets the same abilities here, from single frames (never from video clips or their
event windows): the ViT, Q-Former and T5 learn (1) lettered multiple-choice answers about a frame that
shows a vivid shape and (2) yes/no on whether a frame shows a shape of a given hue and kind, pale or vivid
(`world.PRESENCE`; never the moment query or the Localizer's prompt). The result is saved
with `save_pretrained` and later loaded through the same `from_pretrained` path as the real BLIP-2.

Three choices make this fit in a few CPU minutes (without them the option accuracy stays at chance):
- initialisation at the scale of a fresh small transformer: Hugging Face's BLIP-2 config starts the ViT at
  std 1e-10 and the query tokens at zero (it expects EVA weights), which stalls shape recognition;
- a training-only caption head on the Q-Former output (colour, shape and whether the shape is vivid or pale),
  the direct visual signal BLIP-2's own Q-Former pre-training gives before the language model is attached
  (without the vivid/pale term the ViT has no reason to keep saturation apart, and no Localizer trained on
  top of the frozen ViT can then tell the event from the pale shape);
- a relative-position prior in the T5 encoder: two heads start out looking two tokens ahead and behind,
  which links each option letter to its text in `Option X: text`; from a flat start the tiny T5 sits on a
  plateau at chance for thousands of steps before it finds that link.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers import Blip2ForConditionalGeneration
from transformers.models.t5.modeling_t5 import T5Attention

from sevila.demo.benchmark import FrameExample, SyntheticSettings, frame_examples, vocabulary
from sevila.demo.render import COLOURS, SHAPES
from sevila.demo.world import NUM_OPTIONS, PRESENCE, QUESTIONS
from sevila.data.transforms import normalize
from sevila import prompts
from sevila.model.backbone import parts_from_model
from sevila.model.hf_progress import progress_on_terminal
from sevila.model.language import PromptedT5
from sevila.model.sevila import SeViLA
from sevila.model.tiny import TinySize, tiny_config, untie_lm_head
from sevila.model.tokenizer import build_tokenizer, single_token_id

log = logging.getLogger(__name__)

_COLOUR_NAMES = list(COLOURS)


@dataclass(frozen=True)
class BackboneTraining:
    """How the demo backbone is built and pre-trained."""

    size: TinySize = TinySize(image_size=32, patch_size=8, vision_width=64, vision_layers=3, qformer_width=64,
                              num_query_tokens=8, text_width=64)
    steps: int = 1500
    batch_size: int = 32
    event_share: float = 0.5  # share of each batch drawn from event frames; the rest show pale distractors
    lr: float = 1e-3
    warmup: float = 0.3  # share of the steps spent warming up (one-cycle schedule)
    examples: int = 6000  # distinct training frames
    option_orders: int = 2  # lettered prompts per question and frame, each with fresh options in a fresh order
    caption_weight: float = 1.0
    letter_prior: float = 5.0  # initial relative-position bias of the two letter<->option heads
    seed: int = 0


class CaptionHead(nn.Module):
    """Training-only: the mean projected query scored against T5's input embeddings of hue and shape words,
    and a linear vivid-or-pale read-out."""

    def __init__(self, language: PromptedT5) -> None:
        super().__init__()
        self.language = language  # not a module: T5's embeddings stay registered (and optimised) once
        width = language.model.config.d_model
        self.colour_ids = torch.tensor([single_token_id(language.tokenizer, word) for word in _COLOUR_NAMES])
        self.shape_ids = torch.tensor([single_token_id(language.tokenizer, word) for word in SHAPES])
        self.scale = nn.Parameter(torch.tensor(width**-0.5))
        self.vivid = nn.Linear(width, 1)

    def loss(self, queries: Tensor, examples: list[FrameExample]) -> Tensor:
        """Cross-entropy of the hue and the kind of shape each frame shows, and of whether it is vivid."""
        pooled = queries.mean(dim=1) * self.scale  # (B, D)
        hues = torch.tensor([_COLOUR_NAMES.index(e.hue) for e in examples], device=pooled.device)
        shapes = torch.tensor([SHAPES.index(e.shape) for e in examples], device=pooled.device)
        vivid = torch.tensor([float(e.event) for e in examples], device=pooled.device)
        return (F.cross_entropy(pooled @ self.language.embed(self.colour_ids).T, hues)
                + F.cross_entropy(pooled @ self.language.embed(self.shape_ids).T, shapes)
                + F.binary_cross_entropy_with_logits(self.vivid(pooled).squeeze(-1), vivid))


def frames_tensor(examples: list[FrameExample], image_size: int) -> Tensor:
    """Frames (B, 1, 3, S, S), resized and CLIP-normalised like decoded video frames."""
    images = torch.stack([example.image for example in examples]).float()
    images = F.interpolate(images, size=(image_size, image_size), mode="bilinear", antialias=True)
    return normalize(images.round().clamp(0, 255).to(torch.uint8)).unsqueeze(1)


def yes_no_prompts(examples: list[FrameExample], rng: random.Random) -> tuple[list[str], list[str]]:
    """One presence question per frame about what it shows, vivid or pale: true for about a quarter, a quarter
    each right in hue only or in kind only, the rest drawn at random; targets `yes`/`no`."""
    texts, targets = [], []
    for example in examples:
        colour, shape = rng.choice(list(COLOURS)), rng.choice(SHAPES)
        draw = rng.random()
        if draw < 0.75:
            colour = example.hue if draw < 0.5 else colour
            shape = example.shape if draw < 0.25 or draw >= 0.5 else shape
        texts.append(PRESENCE.format(colour=colour, shape=shape))
        targets.append("yes" if (colour, shape) == (example.hue, example.shape) else "no")
    return texts, targets


def lettered_question(example: FrameExample, qtype: str, rng: random.Random) -> tuple[str, str, str, str]:
    """A fresh `qtype` question about an event frame: (question, answer word, Answerer prompt, `Option X`)."""
    choices, word = (_COLOUR_NAMES, example.colour) if qtype == "Color" else (list(SHAPES), example.shape)
    options = [word, *rng.sample([other for other in choices if other != word], NUM_OPTIONS - 1)]
    rng.shuffle(options)
    question = QUESTIONS[qtype] + "?"
    text = prompts.qa_prompts(question, [option + "." for option in options]).answerer
    return question, str(word), text, prompts.answer_target(options.index(word))


def _loss(model: SeViLA, queries: Tensor, texts: list[str], targets: list[str]) -> Tensor:
    return model.language.target_loss(*model.language.per_frame_inputs(queries, texts), targets)[0]


def training_loss(model: SeViLA, examples: list[FrameExample], rng: random.Random, caption: CaptionHead,
                  training: BackboneTraining) -> Tensor:
    """Yes/no and caption on all frames; on event frames both questions, as answer word and as lettered options."""
    raw = model.encode_frames(frames_tensor(examples, model.image_size))  # (B, 1, P, D)
    queries = model.answerer.head(raw.flatten(0, 1))  # (B, Q, D)
    loss = _loss(model, queries, *yes_no_prompts(examples, rng))
    loss = loss + training.caption_weight * caption.loss(queries, examples)
    orders = training.option_orders
    asked = [(i, *lettered_question(example, qtype, rng)) for i, example in enumerate(examples) if example.event
             for qtype in QUESTIONS for _ in range(orders)]
    if asked:
        index, questions, words, lettered, letters = map(list, zip(*asked))
        once = slice(None, None, orders)  # the answer word needs no second option order
        grounding = _loss(model, queries[index[once]], [f"Question: {q}" for q in questions[once]], words[once])
        loss = loss + grounding + _loss(model, queries[index], lettered, letters)
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


def _letter_prior(language_model: nn.Module, strength: float) -> None:
    """Bias encoder heads 0 and 1 towards the token two ahead / two behind (`▁X : ▁text`)."""
    attention = language_model.encoder.block[0].layer[0].SelfAttention  # its bias is shared by all encoder layers
    buckets = T5Attention._relative_position_bucket(
        torch.tensor([2, -2]), bidirectional=True, num_buckets=attention.relative_attention_num_buckets,
        max_distance=attention.relative_attention_max_distance)
    with torch.no_grad():
        attention.relative_attention_bias.weight[buckets, torch.arange(2)] += strength


def build_backbone(training: BackboneTraining) -> tuple[Blip2ForConditionalGeneration, SeViLA]:
    """A fresh tiny BLIP-2 and the SeViLA model that trains it (ViT and T5 shared, the Answerer's head a copy)."""
    torch.manual_seed(training.seed)
    tokenizer = build_tokenizer(vocabulary())
    config = tiny_config(len(tokenizer), training.size)
    # Encoder and decoder embeddings untied (Flan-T5 shares one): tied, held-out option accuracy fell from 91% to 77%.
    config.text_config.tie_word_embeddings = False
    config.vision_config.initializer_range = training.size.vision_width ** -0.5
    config.qformer_config.initializer_range = training.size.qformer_width ** -0.5
    config.initializer_range = training.size.qformer_width ** -0.5  # language_projection: T5-scale soft tokens
    blip2 = Blip2ForConditionalGeneration(config)
    untie_lm_head(blip2)
    with torch.no_grad():
        blip2.query_tokens.normal_(std=config.qformer_config.initializer_range)  # as LAVIS initialises them
    _letter_prior(blip2.language_model, training.letter_prior)
    model = SeViLA(parts_from_model(blip2, tokenizer, "demo-backbone")).requires_grad_(True).train()
    return blip2, model


def fit(model: SeViLA, examples: list[FrameExample], training: BackboneTraining) -> list[float]:
    """Train ViT, the Answerer's head and T5 on single frames (never the Localizer); the loss of every step."""
    caption = CaptionHead(model.language)
    trained = [p for name, p in model.named_parameters() if not name.startswith("localizer.")]
    optimizer = torch.optim.AdamW([*trained, *caption.parameters()], lr=training.lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=training.lr, total_steps=training.steps, pct_start=training.warmup)
    events, others = [e for e in examples if e.event], [e for e in examples if not e.event]
    num_events = round(training.batch_size * training.event_share)
    rng, losses = random.Random(training.seed), []
    for step in range(training.steps):
        batch = rng.sample(events, num_events) + rng.sample(others, training.batch_size - num_events)
        loss = training_loss(model, batch, rng, caption, training)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if step % 100 == 0 or step == training.steps - 1:
            log.info("demo backbone: step %d/%d loss %.4f", step + 1, training.steps, losses[-1])
    return losses


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
    blip2, model = build_backbone(training)
    world = SyntheticSettings(seed=training.seed + 1)
    fit(model, frame_examples(world, training.examples, seed=training.seed), training)
    model.eval()
    heldout = frame_examples(world, 256, seed=training.seed + 10_000)
    accuracy = heldout_accuracy(model, heldout, seed=training.seed + 1)
    _write_back(model, blip2)
    with progress_on_terminal():  # its config already says untied: every T5 matrix is its own (build_backbone)
        blip2.save_pretrained(output_dir)
    model.language.tokenizer.save_pretrained(output_dir)
    log.info("demo backbone: held-out %s, saved to %s", accuracy, output_dir)
    return accuracy
