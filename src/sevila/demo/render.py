"""Drawing and encoding of the synthetic demo world: a pale moving shape, short vivid events."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import av
import numpy as np

from sevila.io import atomic_open

# Saturated colours with hues at least ~45 degrees apart, so they survive yuv420p and a resize.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (225, 30, 30),
    "yellow": (235, 220, 25),
    "green": (30, 185, 45),
    "cyan": (20, 200, 215),
    "blue": (35, 60, 230),
    "purple": (165, 40, 205),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "cross", "ring", "diamond")

BACKGROUND_GREY = 128
NOISE_SIGMA = 8.0
EVENT_RADIUS = (0.20, 0.24)  # half-extent as a share of the frame side: the shape spans ~40-48% of it
DISTRACTOR_RADIUS = (0.16, 0.24)
DISTRACTOR_GREYS = ((35, 80), (175, 245))  # dark or light grey: brightness alone must not flag the event
DISTRACTOR_TINT = 0.45  # share of its hue's chroma the pale shape shows: a hue to read, far from the event's vividness
EVENT_OFFSET = 0.10  # the event's centre lies within +-10% of the frame side from the middle
EVENT_JITTER_PX = 1.5


@dataclass(frozen=True)
class Scene:
    """Everything needed to draw any frame of one clip: the pale distractor's path and the event shape."""

    size: int
    seed: int
    distractor_shape: str
    distractor_hue: str
    distractor_grey: int
    distractor_radius: float
    start: tuple[float, float]
    velocity: tuple[float, float]  # pixels per frame
    colour: str
    shape: str
    event_centre: tuple[float, float]
    event_radius: float


def sample_scene(rng: np.random.Generator, size: int, colour: str, shape: str, same_hue: bool = False,
                 same_kind: bool = False, other_hues: tuple[str, ...] = (), other_kinds: tuple[str, ...] = ()
                 ) -> Scene:
    """Draw a clip's scene; the pale distractor has neither the event's kind of shape nor its hue (by default).

    `same_hue` / `same_kind` give the pale shape the event's hue / kind instead: moment clips do so, so that a
    query (`a red circle appears`) is told apart from a pale red circle that was there all along only by the
    event itself (see `world.plan_moments`). `other_hues` / `other_kinds` are what the pale shape must not show
    either: the count world's further events (`with_event`).

    An Answerer that reads the distractor then answers the clip's questions wrongly outside the event, as
    one looking at an unrelated moment of a real video does. Were the distractor the event's kind (or
    grey, leaving only a guess), its answer would be the same on every frame outside the event, and right
    for a share of the clips: the reverse chain would label all of those frames keyframes.
    """
    radius = float(rng.uniform(*DISTRACTOR_RADIUS)) * size
    low, high = DISTRACTOR_GREYS[int(rng.integers(len(DISTRACTOR_GREYS)))]
    speed = float(rng.uniform(0.6, 1.6))
    angle = float(rng.uniform(0.0, 2 * np.pi))
    offset = rng.uniform(-EVENT_OFFSET, EVENT_OFFSET, size=2) * size
    hues, kinds = (colour, *other_hues), (shape, *other_kinds)
    return Scene(
        size=size,
        seed=int(rng.integers(2**31)),
        distractor_shape=shape if same_kind else str(rng.choice([k for k in SHAPES if k not in kinds])),
        distractor_hue=colour if same_hue else str(rng.choice([h for h in COLOURS if h not in hues])),
        distractor_grey=int(rng.integers(low, high + 1)),
        distractor_radius=radius,
        start=(float(rng.uniform(radius, size - radius)), float(rng.uniform(radius, size - radius))),
        velocity=(speed * np.cos(angle), speed * np.sin(angle)),
        colour=colour,
        shape=shape,
        event_centre=(size / 2 + float(offset[0]), size / 2 + float(offset[1])),
        event_radius=float(rng.uniform(*EVENT_RADIUS)) * size,
    )


def with_event(rng: np.random.Generator, scene: Scene, colour: str, shape: str) -> Scene:
    """The same clip (pale shape, noise) with another vivid shape, placed and sized as `sample_scene` places one."""
    offset = rng.uniform(-EVENT_OFFSET, EVENT_OFFSET, size=2) * scene.size
    return replace(scene, colour=colour, shape=shape,
                   event_centre=(scene.size / 2 + float(offset[0]), scene.size / 2 + float(offset[1])),
                   event_radius=float(rng.uniform(*EVENT_RADIUS)) * scene.size)


def shape_mask(shape: str, size: int, centre: tuple[float, float], radius: float) -> np.ndarray:
    """Boolean (size, size) mask of one shape; extents are tuned so all kinds cover similar areas."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    dx, dy = np.abs(xx - centre[0]), yy - centre[1]
    if shape == "circle":
        return dx**2 + dy**2 <= radius**2
    if shape == "ring":
        distance = np.sqrt(dx**2 + dy**2)
        return (distance <= radius) & (distance >= 0.5 * radius)
    if shape == "square":
        return np.maximum(dx, np.abs(dy)) <= 0.85 * radius
    if shape == "diamond":
        return dx / 0.85 + np.abs(dy) / 1.3 <= radius  # taller than wide: unlike a circle or square
    if shape == "cross":
        arm = 0.32 * radius
        return ((dx <= arm) & (np.abs(dy) <= radius)) | ((np.abs(dy) <= arm) & (dx <= radius))
    if shape == "triangle":
        # Apex up at -radius, base at +0.8 radius, base half-width = radius.
        return (dy >= -radius) & (dy <= 0.8 * radius) & (dx <= (dy + radius) / 1.8)
    raise ValueError(f"unknown shape {shape!r}; expected one of {', '.join(SHAPES)}")


def render_frame(scene: Scene, index: int, event: bool) -> np.ndarray:
    """Frame `index` of the clip as (size, size, 3) uint8 RGB; `event` draws the vivid shape instead."""
    rng = np.random.default_rng([scene.seed, index])
    size = scene.size
    noise = rng.normal(0.0, NOISE_SIGMA, size=(size, size, 1)).astype(np.float32)
    image = np.full((size, size, 3), BACKGROUND_GREY, dtype=np.float32)
    if event:
        jitter = rng.uniform(-EVENT_JITTER_PX, EVENT_JITTER_PX, size=2)
        centre = (scene.event_centre[0] + jitter[0], scene.event_centre[1] + jitter[1])
        image[shape_mask(scene.shape, size, centre, scene.event_radius)] = COLOURS[scene.colour]
    else:
        centre = distractor_position(scene, index)
        image[shape_mask(scene.distractor_shape, size, centre, scene.distractor_radius)] = pale(
            scene.distractor_hue, scene.distractor_grey)
    # The noise is the same in all three channels: it never adds saturation outside the event.
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def pale(hue: str, grey: int) -> np.ndarray:
    """RGB of `grey` tinted towards `hue` by DISTRACTOR_TINT of the hue's chroma (its channel deviations)."""
    rgb = np.asarray(COLOURS[hue], dtype=np.float32)
    return grey + DISTRACTOR_TINT * (rgb - rgb.mean())


def distractor_position(scene: Scene, index: int) -> tuple[float, float]:
    """Centre of the pale shape at frame `index`: straight motion that bounces off the frame edges."""
    low, span = scene.distractor_radius, scene.size - 2 * scene.distractor_radius
    position = []
    for start, velocity in zip(scene.start, scene.velocity):
        travelled = (start - low + velocity * index) % (2 * span)
        position.append(low + (travelled if travelled <= span else 2 * span - travelled))
    return position[0], position[1]


def encode_video(path: str | os.PathLike[str], frames: np.ndarray, fps: int) -> None:
    """Encode (T, H, W, 3) uint8 RGB frames as h264/yuv420p mp4 at a constant `fps`, atomically."""
    with atomic_open(path, "wb") as handle, av.open(handle, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = 2 * fps  # a keyframe every 2 s, as in ordinary footage
        stream.thread_count = 1  # x264 output depends on the thread count: fix it so files match on every machine
        stream.options = {"preset": "ultrafast", "crf": "20"}
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))
