"""The embedded demo: a tiny BLIP-2 that knows the synthetic world, and the demo's report."""
