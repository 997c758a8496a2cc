"""Where each benchmark's videos live under the video folder, and the NExT-QA video id map.

Layout (`<dir>` = the configured video folder):
- NExT-QA: `<dir>/<folder>/<id>.mp4`. Records made by `sevila prepare nextqa` already hold `folder/id`
  (as the SeViLA JSON does); records holding a bare id need `--video-map map_vid_vidorID.json`.
- VLEP has two sources (sevila-method.md §8): `vid_name`s with a `:` are YouTube clips
  (`<youtube id>_subs_<n>_<hh:mm:ss>_<hh:mm:ss>_ep`) kept under `<dir>/youtube/<vid_name>.mp4`; the
  others are TV-show clips (`friends_s03e09_seg02_clip_07_ep`), the TVQA clip of the same name without
  its `_ep` suffix, under `<dir>/tvqa/<clip>.mp4` (a link to the TVQA video folder will do).
- Your own data (`custom`): `<dir>/<video>`, the record's video being a file name with its extension.
- Every other benchmark, and the embedded demo benchmark (`demo`): `<dir>/<video>.mp4`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path, PurePosixPath, PureWindowsPath

from sevila.benchmarks import benchmark
from sevila.data.raw_files import load_json
from sevila.errors import SevilaError

VIDEO_SUFFIX = ".mp4"
VLEP_YOUTUBE_DIR = "youtube"
VLEP_TV_DIR = "tvqa"
_VLEP_EPISODE_SUFFIX = "_ep"
VIDEO_MAP_FORMAT = 'a JSON object mapping video id -> "folder/id" (map_vid_vidorID.json)'


def video_path(
    dataset: str,
    video_dir: str | Path,
    record_video: str,
    video_map: Mapping[str, str] | None = None,
) -> Path:
    """The video file of one record; names that would leave `video_dir` raise SevilaError."""
    layout = benchmark(dataset).layout
    relative = _relative_name(layout, record_video, video_map)
    _reject_escape(relative, record_video, video_dir)
    return Path(video_dir) / (relative if layout == "files" else relative + VIDEO_SUFFIX)


def load_video_map(path: str | Path) -> dict[str, str]:
    """Read NExT-QA's `map_vid_vidorID.json` (video id -> `folder/id`)."""
    if not Path(path).is_file():
        raise SevilaError(
            f"{path}: NExT-QA video id map not found; put map_vid_vidorID.json of the NExT-QA release there, "
            "or point the video map option (--video-map, data.video_map) at it"
        )
    data = load_json(path, VIDEO_MAP_FORMAT)
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise SevilaError(f"{path}: expected {VIDEO_MAP_FORMAT}")
    return data


def _relative_name(layout: str, record_video: str, video_map: Mapping[str, str] | None) -> str:
    if layout == "nextqa" and video_map is not None:
        if record_video not in video_map:
            raise SevilaError(
                f"video {record_video!r} is not in the video id map; records made by `sevila prepare nextqa` "
                "already hold folder/id: drop --video-map for them"
            )
        return video_map[record_video]
    if layout == "vlep":
        # The original tells the two sources apart by the `:` of YouTube timestamps and strips `_ep`
        # from TV clips to find them among the TVQA videos.
        if ":" in record_video:
            return f"{VLEP_YOUTUBE_DIR}/{record_video}"
        return f"{VLEP_TV_DIR}/{record_video.removesuffix(_VLEP_EPISODE_SUFFIX)}"
    return record_video


def _reject_escape(relative: str, record_video: str, video_dir: str | Path) -> None:
    parts = PurePosixPath(relative.replace("\\", "/")).parts
    absolute = PurePosixPath(relative).is_absolute() or PureWindowsPath(relative).is_absolute()
    if not relative.strip() or absolute or ".." in parts:
        raise SevilaError(
            f"video {record_video!r} would resolve outside the video folder {video_dir} (empty, absolute or '..'); "
            "annotation videos must be names or relative paths inside the video folder"
        )
