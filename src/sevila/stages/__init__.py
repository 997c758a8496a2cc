"""One LightningModule per stage of SeViLA (method §6); each stage's YAML in stages/ names its class."""

from sevila.stages.evaluate import Evaluate
from sevila.stages.finetune_answerer import FinetuneAnswerer
from sevila.stages.pretrain_localizer import PretrainLocalizer
from sevila.stages.refine_localizer import RefineLocalizer

__all__ = ["Evaluate", "FinetuneAnswerer", "PretrainLocalizer", "RefineLocalizer"]
