"""Model core: frozen BLIP-2 parts, the Localizer, the Answerer and the two chains (plain nn.Modules)."""
