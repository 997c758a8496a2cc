"""The synthetic demo world as data: settings, per-video plans, questions and their annotation records.

Every clip shows a pale shape (grey tinted towards a hue) moving on a grey noisy background, except
for one short event window in which a vivid shape appears instead. QA clips ask about the vivid shape,
whose kind and hue differ from the pale one's, so only frames inside the window can answer them. Moment
clips (the Localizer's pre-training, as QVHighlights is for the paper) are other videos: each has a query
`a <colour> <shape> appears` naming its event, and its pale shape often has the event's hue or kind, so a
query is matched only by the event itself. No QA clip's window is in any moment annotation. Texts follow
what `sevila prepare nextqa` makes of the official NExT-QA csv (question + `?`, options + `.`, qid
`<type>_<video>_<i>`), so the demo's annotations and its raw NExT-QA files describe the same questions.

The `count` variant (`SyntheticSettings.variant`) shows 1..4 vivid events per QA clip instead, each its own
colour and kind, at least `COUNT_GAP` pale frames apart, and asks only how many there are: no single frame
answers it. Its moment clips are the default world's.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np

from sevila.data.annotations import MOMENT_QID_PREFIX, MomentRecord, QARecord
from sevila.demo.render import COLOURS, SHAPES, Scene, render_frame, sample_scene, with_event

NUM_OPTIONS = 5  # NExT-QA rows hold exactly a0..a4
QUESTIONS: dict[str, str] = {
    "Color": "what color is the vivid shape",
    "Shape": "what kind of shape is vivid",
}
# The `count` variant's question (the answer needs every event, spread over the clip): how many vivid shapes.
COUNT_QUESTION = "how many vivid shapes appear"
COUNTS: tuple[str, ...] = ("one", "two", "three", "four", "five")
VARIANTS: tuple[str, ...] = ("event", "count")
MAX_COUNT = 4  # a count clip shows 1..4 events; "five" is always a wrong option
COUNT_GAP = 4  # fewest pale frames between two events of a count clip, so that they are told apart
QUERY = "a {colour} {shape} appears"
# The backbone's own yes/no skill (demo/backbone.py): whether a frame shows a shape of that hue and kind, pale or
# vivid, as an image-language model describes any picture. Not the moment query, nor the Localizer's prompt.
PRESENCE = "Question: is there a {colour} {shape}? Answer yes or no."
SPLITS: tuple[str, ...] = ("train", "val")
MOMENT_SHARE = 0.5  # chance that a moment clip's pale shape has its event's hue, and (independently) its kind
_MOMENT_STREAM = 10  # rng streams [seed, 10 + split index, i]: no QA clip or single frame draws from them


@dataclass(frozen=True)
class SyntheticSettings:
    """Size of the demo benchmark and of its clips."""

    num_train_videos: int = 120  # training clips (QA and moment annotations)
    num_val_videos: int = 120  # validation clips, disjoint from the training ones
    num_moment_videos: int = 120  # moment pre-training clips (their own videos, no questions)
    num_moment_val_videos: int = 40  # moment validation clips (stage 1's best epoch)
    size: int = 64  # frame width and height in pixels
    fps: int = 8  # constant frame rate of every clip
    min_seconds: int = 6  # shortest clip
    max_seconds: int = 10  # longest clip
    event_frames: tuple[int, int] = (4, 8)  # fewest and most frames of the vivid event
    seed: int = 0  # everything generated is a function of the settings
    variant: str = "event"  # `event`: one event, Color and Shape questions; `count`: 1..4 events, Count questions

    def __post_init__(self) -> None:
        low, high = self.event_frames
        shortest = self.min_seconds * self.fps
        _require(self.num_train_videos >= 1, "num_train_videos (--train-videos)", self.num_train_videos, ">= 1")
        _require(self.num_val_videos >= 1, "num_val_videos (--val-videos)", self.num_val_videos, ">= 1")
        _require(self.num_moment_videos >= 1, "num_moment_videos (--moment-videos)", self.num_moment_videos, ">= 1")
        _require(self.num_moment_val_videos >= 1, "num_moment_val_videos (--moment-val-videos)",
                 self.num_moment_val_videos, ">= 1")
        _require(self.size >= 16, "size (--size)", self.size, ">= 16 pixels")
        _require(self.fps >= 1, "fps", self.fps, ">= 1")
        _require(1 <= self.min_seconds <= self.max_seconds, "min_seconds", self.min_seconds, "1..max_seconds")
        _require(1 <= low <= high < shortest, "event_frames", self.event_frames,
                 f"(min, max) with 1 <= min <= max < {shortest} (the shortest clip's frames)")
        _require(self.variant in VARIANTS, "variant (--variant)", self.variant, f"one of {', '.join(VARIANTS)}")
        _require(self.variant != "count" or MAX_COUNT * high + (MAX_COUNT - 1) * COUNT_GAP <= shortest,
                 "event_frames", self.event_frames, f"{MAX_COUNT} events of at most max frames, {COUNT_GAP} pale "
                 f"frames apart, to fit in the shortest clip ({shortest} frames) of the count variant")


@dataclass(frozen=True)
class Question:
    """One question about a clip's event, as the official NExT-QA csv would hold it (no `?`, no `.`)."""

    qtype: str
    text: str
    options: tuple[str, ...]
    answer: int

    def prepared(self) -> tuple[str, tuple[str, ...]]:
        """Question and options as `sevila prepare nextqa` writes them: `?` and `.` appended."""
        return self.text + "?", tuple(option + "." for option in self.options)


@dataclass(frozen=True)
class Event:
    """One vivid event: its frames (indices, inclusive) and the scene whose vivid shape it shows."""

    first: int
    last: int
    scene: Scene  # every event of a clip has the same pale shape and noise; only the vivid shape differs


@dataclass(frozen=True)
class VideoPlan:
    """One clip: its name, length, events in time order, and questions."""

    name: str
    num_frames: int
    fps: int
    events: tuple[Event, ...]  # one, except in the count variant
    questions: tuple[Question, ...]

    @property
    def scene(self) -> Scene:
        """The first event's scene (the clip's pale shape and noise; in the default world, its only event)."""
        return self.events[0].scene

    @property
    def first(self) -> int:
        """The first event's first frame."""
        return self.events[0].first

    @property
    def last(self) -> int:
        """The first event's last frame."""
        return self.events[0].last

    def windows(self) -> list[list[int]]:
        """Every event's [first, last] frames, as event_windows.json holds them."""
        return [[event.first, event.last] for event in self.events]

    def frames(self) -> np.ndarray:
        """All frames as (T, size, size, 3) uint8 RGB."""
        return np.stack([self._frame(i) for i in range(self.num_frames)])

    def _frame(self, index: int) -> np.ndarray:
        for event in self.events:
            if event.first <= index <= event.last:
                return render_frame(event.scene, index, True)
        return render_frame(self.scene, index, False)

    def qa_records(self) -> list[QARecord]:
        """The clip's questions as SeViLA-format records (whole clip, no span)."""
        return [
            QARecord(f"{q.qtype}_{self.name}_{i}", self.name, *q.prepared(), q.answer, None, None, q.qtype)
            for i, q in enumerate(self.questions)
        ]

    def moment_record(self) -> MomentRecord:
        """The event as a QVHighlights query with its window in seconds."""
        # The window ends half a frame after the last event frame, so the inclusive rule of
        # sevila-method.md §6 (start <= index / fps <= end) labels exactly the event frames `yes`.
        window = (self.first / self.fps, (self.last + 0.5) / self.fps)
        query = QUERY.format(colour=self.scene.colour, shape=self.scene.shape)
        return MomentRecord(f"{MOMENT_QID_PREFIX}{self.name}", self.name, query, self.num_frames / self.fps, (window,))


def plan_split(settings: SyntheticSettings, split: str) -> list[VideoPlan]:
    """The QA clips of one split; clip i depends only on (seed, variant, split, i), not on how many there are."""
    count = settings.num_train_videos if split == "train" else settings.num_val_videos
    plan = _plan_count_video if settings.variant == "count" else _plan_video
    return [plan(settings, split, index) for index in range(count)]


def plan_moments(settings: SyntheticSettings, split: str) -> list[VideoPlan]:
    """The moment clips of one split (`moments_train0000`, ...): own videos, own rng streams, no questions."""
    count = settings.num_moment_videos if split == "train" else settings.num_moment_val_videos
    return [_plan_video(settings, split, index, moments=True) for index in range(count)]


def ask(rng: np.random.Generator, qtype: str, scene: Scene) -> Question:
    """A question of type `qtype` about the scene's vivid shape: 5 shuffled options, the pale shape's among them.

    As in NExT-QA, where wrong options often name something else the video shows, an Answerer that reads
    a frame outside the event finds what it sees among the options, and answers wrongly.
    """
    if qtype == "Color":
        vocabulary, answer, seen = tuple(COLOURS), scene.colour, scene.distractor_hue
    else:
        vocabulary, answer, seen = SHAPES, scene.shape, scene.distractor_shape
    others = [word for word in vocabulary if word not in (answer, seen)]
    options = [answer, seen, *rng.choice(others, size=NUM_OPTIONS - 2, replace=False).tolist()]
    order = rng.permutation(NUM_OPTIONS)
    shuffled = tuple(str(options[i]) for i in order)
    return Question(qtype, QUESTIONS[qtype], shuffled, int(np.flatnonzero(order == 0)[0]))


def ask_count(rng: np.random.Generator, count: int) -> Question:
    """The count variant's question: how many vivid shapes, the options one..five shuffled as `ask` shuffles."""
    order = rng.permutation(NUM_OPTIONS)
    options = tuple(COUNTS[i] for i in order)
    return Question("Count", COUNT_QUESTION, options, int(np.flatnonzero(order == count - 1)[0]))


def vocabulary() -> list[str]:
    """Every word of the questions, options and moment queries, punctuation stripped, sorted."""
    texts = [*QUESTIONS.values(), COUNT_QUESTION, *COUNTS, QUERY.format(colour="", shape=""),
             PRESENCE.format(colour="", shape=""), *COLOURS, *SHAPES]
    words = {word.strip(string.punctuation) for text in texts for word in text.split()}
    return sorted(word for word in words if word)


def _require(ok: bool, name: str, value: object, expected: str) -> None:
    if not ok:
        raise ValueError(f"synthetic settings: {name} is {value!r}; expected {expected}")


def _clip(settings: SyntheticSettings, split: str, index: int, moments: bool) -> tuple[np.random.Generator, int]:
    """The clip's rng stream and its number of frames, the first draw of every kind of clip."""
    rng = np.random.default_rng([settings.seed, SPLITS.index(split) + (_MOMENT_STREAM if moments else 0), index])
    fps = settings.fps
    return rng, int(rng.integers(settings.min_seconds * fps, settings.max_seconds * fps + 1))


def _plan_video(settings: SyntheticSettings, split: str, index: int, moments: bool = False) -> VideoPlan:
    rng, num_frames = _clip(settings, split, index, moments)
    length = int(rng.integers(settings.event_frames[0], settings.event_frames[1] + 1))
    first = int(rng.integers(0, num_frames - length + 1))
    colour, shape = str(rng.choice(list(COLOURS))), str(rng.choice(SHAPES))
    if moments:
        same_hue, same_kind = bool(rng.random() < MOMENT_SHARE), bool(rng.random() < MOMENT_SHARE)
        scene = sample_scene(rng, settings.size, colour, shape, same_hue, same_kind)
        event = Event(first, first + length - 1, scene)
        return VideoPlan(f"moments_{split}{index:04d}", num_frames, settings.fps, (event,), ())
    scene = sample_scene(rng, settings.size, colour, shape)
    questions = tuple(ask(rng, qtype, scene) for qtype in QUESTIONS)
    return VideoPlan(f"{split}{index:04d}", num_frames, settings.fps, (Event(first, first + length - 1, scene),),
                     questions)


def _plan_count_video(settings: SyntheticSettings, split: str, index: int) -> VideoPlan:
    """A count clip: N in 1..MAX_COUNT events, the clip's slack frames spread at random before, between, after."""
    rng, num_frames = _clip(settings, split, index, moments=False)
    count = int(rng.integers(1, MAX_COUNT + 1))
    lengths = rng.integers(settings.event_frames[0], settings.event_frames[1] + 1, size=count)
    slack = num_frames - int(lengths.sum()) - (count - 1) * COUNT_GAP  # >= 0: SyntheticSettings checks it fits
    cuts = np.sort(rng.integers(0, slack + 1, size=count))  # pale frames before each event beyond the gaps
    firsts = [int(cuts[j] + lengths[:j].sum()) + j * COUNT_GAP for j in range(count)]
    colours, kinds = rng.choice(list(COLOURS), size=count).tolist(), rng.choice(SHAPES, size=count).tolist()
    scene = sample_scene(rng, settings.size, colours[0], kinds[0], other_hues=tuple(colours),
                         other_kinds=tuple(kinds))
    scenes = [scene, *(with_event(rng, scene, colour, kind) for colour, kind in zip(colours[1:], kinds[1:]))]
    events = tuple(Event(first, first + int(length) - 1, event_scene)
                   for first, length, event_scene in zip(firsts, lengths, scenes))
    return VideoPlan(f"{split}{index:04d}", num_frames, settings.fps, events, (ask_count(rng, count),))
