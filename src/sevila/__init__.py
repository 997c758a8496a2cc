"""SeViLA: self-chained BLIP-2 for video keyframe localization and question answering."""

__version__ = "0.1.0"
