"""Stage 3: self-refine the Localizer on pseudo-labels from the frozen Answerer (method §6)."""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import Tensor

from sevila.data.batch import QABatch
from sevila.model.digest import weights_digest
from sevila.model.pseudo_label_rules import PseudoLabelRule, check_rule, label_folder
from sevila.stages.pseudo_labels import PseudoLabelCache
from sevila.stages.qa_stage import QAStage

log = logging.getLogger(__name__)


class RefineLocalizer(QAStage):
    """Trains the Localizer per frame on `yes` iff the Answerer, from that frame alone, answers correctly."""

    stage_name = "refine_localizer"
    trains = ("localizer",)

    def __init__(
        self, *args: Any, cache_dir: str = "checkpoints/pseudo_labels", flush_every: int = 50,
        pseudo_label_rule: PseudoLabelRule = "paper", pseudo_label_threshold: float = 0.5, **kwargs: Any
    ) -> None:
        """Stage 3 of SeViLA. The paper refines with the fine-tuned Answerer (`init_answerer`); without one the
        labels come from the zero-shot Answerer and without `init_localizer` the Localizer starts from BLIP-2's
        Q-Former instead of the pre-trained one (paper Table 5).

        Args:
            cache_dir: folder of the pseudo-label cache (reused by later epochs and restarts).
            flush_every: training steps between cache writes, so a killed run loses little.
            pseudo_label_rule: `paper` (yes iff the frozen Answerer, from the frame alone, picks the gold option: the
                paper's rule), `confidence` (also the gold option's probability over the question's options >=
                pseudo_label_threshold) or `margin` (also the gold logit leads the runner-up's by >= the threshold).
                A gated rule's labels are cached in `<cache_dir>/<rule>-<threshold>/`.
            pseudo_label_threshold: the gate of `confidence` (a probability in (0, 1)) or `margin` (a logit
                difference >= 0); `paper` ignores it.
        """
        check_rule(pseudo_label_rule, pseudo_label_threshold)  # before the backbone loads
        super().__init__(*args, **kwargs)
        self.cache_dir = cache_dir
        self.rule, self.threshold = pseudo_label_rule, float(pseudo_label_threshold)  # 1 and 1.0: one folder
        self.flush_every = flush_every
        self.cache: PseudoLabelCache | None = None
        self.answerer_calls = 0  # questions sent to the Answerer for labels: 0 once everything is cached
        if not self.hparams.init_answerer:
            log.info("refine_localizer: no model.init_answerer: pseudo-labels come from the zero-shot Answerer "
                     "(BLIP-2's Q-Former as is), not a fine-tuned one")
        if not self.hparams.init_localizer:
            log.info("refine_localizer: no model.init_localizer: the Localizer starts from BLIP-2's Q-Former, "
                     "not a pre-trained one")

    def setup(self, stage: str) -> None:
        super().setup(stage)
        producer = {"backbone": self.model.backbone_name, "answerer": weights_digest(self.model.answerer),
                    **self.model.precision.describe(), "frozen_dropout": self.model.frozen_dropout}
        instruction = self.clip_data.answerer_instruction  # the labels depend on the Answerer's text
        if instruction is not None:  # only when not the paper's, so caches made before this key stay valid
            producer["answerer_prompt"] = instruction
        directory = label_folder(self.cache_dir, self.rule, self.threshold)
        if self.rule != "paper":  # its own folder: a changed rule relabels, and the paper's labels stay reusable
            producer.update(pseudo_label_rule=self.rule, pseudo_label_threshold=self.threshold)
        log.info("refine_localizer: pseudo-labels by the %s rule%s, cached in %s", self.rule,
                 "" if self.rule == "paper" else f" (threshold {self.threshold!r})", directory)
        self.cache = PseudoLabelCache(directory, producer, rank=self.global_rank)

    def pseudo_labels(self, raw: Tensor, batch: QABatch) -> Tensor:
        """(B, T) labels: from the cache where known, else from the frozen Answerer, each (question, frame) once.

        With random frames a question mixes known and new frames: only the new ones are sent, each frame alone.
        """
        assert self.cache is not None, "setup() builds the cache"
        frame_indices, qids = batch["frame_indices"].tolist(), batch["qid"]
        labels = [[self.cache.lookup(qid, index) for index in row] for qid, row in zip(qids, frame_indices)]
        first: dict[tuple[str, int], tuple[int, int]] = {}  # each missing (qid, frame index) -> where it is first
        for i, row in enumerate(labels):
            for t, label in enumerate(row):
                if label is None:
                    first.setdefault((qids[i], frame_indices[i][t]), (i, t))
        if first:
            rows, cols = (list(column) for column in zip(*first.values()))
            computed = self.model.pseudo_labels(  # (N, 1): each missing frame alone, in batch order
                raw[rows, cols].unsqueeze(1), [batch["answerer_text"][i] for i in rows],
                batch["num_options"][rows], batch["answer"][rows], self.rule, self.threshold,
            )
            self.answerer_calls += len(set(rows))
            for (qid, index), label in zip(first, computed[:, 0].tolist()):
                self.cache.store(qid, index, label)
            labels = [[self.cache.lookup(qid, index) for index in row] for qid, row in zip(qids, frame_indices)]
        return torch.tensor(labels, dtype=torch.bool, device=raw.device)

    def training_step(self, batch: QABatch, batch_idx: int) -> Tensor:
        raw = self.encode(batch)
        labels = self.pseudo_labels(raw, batch)
        loss, yes_no = self.model.localizer.loss(raw, batch["localizer_text"], labels)
        size = len(batch["qid"])
        self.log("train/loss", loss, prog_bar=True, batch_size=size)
        self.log("train/pseudo_label_positive_rate", labels.float().mean(), prog_bar=True, batch_size=size)
        self.log("train/frame_acc", ((yes_no[..., 0] > yes_no[..., 1]) == labels).float().mean(), batch_size=size)
        if (batch_idx + 1) % self.flush_every == 0:
            self.cache.flush()
        return loss

    def on_train_epoch_end(self) -> None:
        self.cache.flush()
