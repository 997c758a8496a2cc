"""Tests of the frame transforms: CLIP normalisation and the clip-level RandomResizedCrop."""

from __future__ import annotations

import pytest
import torch

from sevila.data.transforms import (
    CLIP_MEAN,
    CLIP_STD,
    CropBox,
    denormalize,
    normalize,
    random_resized_crop,
    resized_crop,
    sample_crop_box,
)


def _random_clip(frames: int = 3, height: int = 24, width: int = 32, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (frames, 3, height, width), dtype=torch.uint8, generator=generator)


def test_normalize_maps_a_known_pixel_with_clip_mean_and_std() -> None:
    frames = torch.zeros(1, 3, 2, 2, dtype=torch.uint8)
    frames[0, :, 1, 1] = torch.tensor([255, 128, 0], dtype=torch.uint8)
    out = normalize(frames)
    pixel = (1.0, 128 / 255, 0.0)
    expected = torch.tensor([(value - mean) / std for value, mean, std in zip(pixel, CLIP_MEAN, CLIP_STD)])
    assert out.dtype == torch.float32
    torch.testing.assert_close(out[0, :, 1, 1], expected)
    torch.testing.assert_close(out[0, 0, 0, 0], torch.tensor(-CLIP_MEAN[0] / CLIP_STD[0]))


def test_normalize_rejects_frames_without_three_channels() -> None:
    with pytest.raises(ValueError, match=r"\(T, 3, H, W\)"):
        normalize(torch.zeros(2, 4, 8, 8, dtype=torch.uint8))


def test_random_resized_crop_keeps_shape_and_dtype() -> None:
    out = random_resized_crop(_random_clip(), 16, generator=torch.Generator().manual_seed(1))
    assert out.shape == (3, 3, 16, 16) and out.dtype == torch.uint8


def test_random_resized_crop_stays_in_pixel_range_on_float_input() -> None:
    clip = torch.zeros(2, 3, 32, 32)
    clip[..., ::2, ::2] = 255.0  # a checkerboard makes bicubic overshoot before the clamp
    out = random_resized_crop(clip, 48, generator=torch.Generator().manual_seed(2))
    assert out.min() >= 0.0 and out.max() <= 255.0 and out.max() > 200.0


def test_random_resized_crop_uses_one_box_for_all_frames() -> None:
    clip = _random_clip(frames=1).expand(5, 3, 24, 32).contiguous()
    out = random_resized_crop(clip, 16, generator=torch.Generator().manual_seed(3))
    assert all(torch.equal(out[0], frame) for frame in out[1:])


def test_random_resized_crop_equals_the_sampled_box_resized() -> None:
    clip = _random_clip()
    box = sample_crop_box(24, 32, generator=torch.Generator().manual_seed(4))
    out = random_resized_crop(clip, 16, generator=torch.Generator().manual_seed(4))
    assert torch.equal(out, resized_crop(clip, box, 16))


def test_random_resized_crop_is_deterministic_under_a_seeded_generator() -> None:
    clip = _random_clip()
    first = random_resized_crop(clip, 16, generator=torch.Generator().manual_seed(5))
    second = random_resized_crop(clip, 16, generator=torch.Generator().manual_seed(5))
    assert torch.equal(first, second)


def test_sample_crop_box_respects_scale_and_bounds() -> None:
    generator = torch.Generator().manual_seed(6)
    for _ in range(50):
        box = sample_crop_box(40, 60, scale=(0.5, 1.0), ratio=(3 / 4, 4 / 3), generator=generator)
        assert 0 <= box.top and box.top + box.height <= 40 and 0 <= box.left and box.left + box.width <= 60
        assert 0.45 * 2400 <= box.height * box.width <= 2400


def test_sample_crop_box_falls_back_to_a_central_crop() -> None:
    # A 100x1 image cannot hold a near-square box of >= 90% area, so all 10 attempts fail.
    box = sample_crop_box(100, 1, scale=(0.9, 1.0), ratio=(1.0, 1.0), generator=torch.Generator().manual_seed(7))
    assert box == CropBox(top=49, left=0, height=1, width=1)


def test_resized_crop_of_the_full_frame_at_the_same_size_is_identity() -> None:
    clip = _random_clip(height=16, width=16)
    assert torch.equal(resized_crop(clip, CropBox(0, 0, 16, 16), 16), clip)


def test_sample_crop_box_rejects_an_inverted_scale() -> None:
    with pytest.raises(ValueError, match="scale"):
        sample_crop_box(10, 10, scale=(1.0, 0.5))


def test_denormalize_inverts_normalize():
    frames = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    assert torch.equal(denormalize(normalize(frames)), frames)


def _step_clip() -> torch.Tensor:
    """One 4x4 frame whose columns are 0, 0, 255, 255: a hard edge that bicubic overshoots on both sides."""
    return torch.tensor([0, 0, 255, 255], dtype=torch.uint8).expand(1, 3, 4, 4).contiguous()


def test_official_crop_resize_is_bicubic_a075_truncated_and_clamped() -> None:
    # 2x upsampling, align_corners=False: output x = (i + 0.5) / 2 - 0.5, Keys weights with a = -0.75 at
    # distances 0.25/0.75/1.25/1.75 = 0.8789/0.2617/-0.1055/-0.0352, borders replicated. The values before
    # the cast are 0, -8.96, -26.89, 57.77, 197.23, 281.89, 263.96, 255: the original's uint8 cast gives
    # 0, 248, 230, 57, 197, 25, 7, 255 (truncation that wraps around); ours truncates after clamping.
    out = resized_crop(_step_clip(), CropBox(0, 0, 4, 4), 8, mode="official")
    assert out.dtype == torch.uint8 and (out == out[:, :, :1]).all()  # every row the same
    assert out[0, 0, 0].tolist() == [0, 0, 0, 57, 197, 255, 255, 255]


def test_smooth_crop_resize_is_antialiased_bicubic_a05_rounded_and_clamped() -> None:
    # The antialiased kernel (a = -0.5: 0.8672/0.2266/-0.0703/-0.0234) renormalised where it leaves the
    # frame: inside, 255 * (0.2266 - 0.0234) = 51.80 and 255 * (0.8672 - 0.0703) = 203.20, rounded; at the
    # edges -5.58, -17.52, 272.52, 260.58 are clamped.
    out = resized_crop(_step_clip(), CropBox(0, 0, 4, 4), 8)  # the default mode
    assert out[0, 0, 0].tolist() == [0, 0, 0, 52, 203, 255, 255, 255]
    assert torch.equal(out, resized_crop(_step_clip(), CropBox(0, 0, 4, 4), 8, mode="smooth"))


def test_crop_resize_rejects_an_unknown_mode() -> None:
    with pytest.raises(ValueError, match="'nearest'"):
        resized_crop(_step_clip(), CropBox(0, 0, 4, 4), 8, mode="nearest")
