"""Annotations, converters from the official releases, video paths and frame sampling."""
