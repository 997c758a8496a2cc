"""Forward chain seconds per question on CPU, mid-size random model: today's code (a git revision) against this one.

usage: python benchmarks/chain_batch.py [--baseline c8c3488] [--questions 4] [--frames 32] [--rounds 2]

A random BLIP-2 with a ViT of width 512 and a T5-small-sized language model (d_model 512, 6 + 6 layers, 8 heads,
gated d_ff 1024) is saved once; every variant loads it in its own process (the baseline from `git archive` of
`--baseline`, on PYTHONPATH) and runs the same chain on the same raw ViT features; the best call of
`--rounds` interleaved rounds over all variants counts:
- evaluation batch: B questions about B different clips (the stages' batches);
- one clip: B questions about one clip, its features shared (`Pipeline.batch`, `inference.answer_questions`);
- per question: one chain call per question, as a loop over questions would;
- this code with `chunk_size` = one question's frames per T5 call, and with eager attention instead of SDPA.
Each variant prints its seconds per question, its ratio to the baseline's same workload, and the largest absolute
difference of its frame scores and option logits from the baseline's (keyframes must be identical).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
WIDTH = dict(image_size=112, patch_size=14, vision_width=512, vision_layers=6, qformer_width=256, qformer_layers=2,
             num_query_tokens=32, text_width=512, text_layers=6, heads=8)
QUESTION = "why did the boy pick up the red ball at the end of the video ?"
OPTIONS = ["to throw it to the dog", "he wanted to play", "to put it away", "his mother asked", "to show a friend"]


def build(work: Path, questions: int, frames: int) -> tuple[Path, Path]:
    """The mid-size backbone folder and the inputs file (raw ViT features of B clips, the texts)."""
    from sevila import prompts
    from sevila.model.backbone import load_blip2
    from sevila.model.sevila import SeViLA
    from sevila.model.tiny import TinySize, build_tiny_backbone

    words = sorted({w for text in (QUESTION, *OPTIONS) for w in text.split()})
    backbone = build_tiny_backbone(work / "backbone", words, TinySize(**WIDTH))
    model = SeViLA(load_blip2(backbone)).eval()
    size = model.image_size
    torch.manual_seed(0)
    with torch.no_grad():
        raw = model.encode_frames(torch.randn(questions, frames, 3, size, size))
    texts = [prompts.qa_prompts(f"{QUESTION} ({i})", OPTIONS) for i in range(questions)]
    inputs = work / "inputs.pt"
    torch.save({"raw": raw, "answerer": [p.answerer for p in texts], "localizer": [p.localizer for p in texts]}, inputs)
    return backbone, inputs


def worker(backbone: str, inputs: str, output: str, workload: str, attention: str, chunk: int, repeat: int) -> None:
    """Time one variant in this process and save its outputs and best seconds."""
    from sevila.model.backbone import load_blip2
    from sevila.model.sevila import SeViLA

    model = SeViLA(load_blip2(backbone)).eval()
    for module in (model.vision_model, model.language_model, model.localizer.head.qformer, model.answerer.head.qformer):
        module.set_attn_implementation(attention)
    if chunk:
        model.chunk_size = chunk
    data = torch.load(inputs)
    raw, answerer, localizer = data["raw"], data["answerer"], data["localizer"]
    b = raw.shape[0]
    if workload == "one_clip":
        raw = raw[:1].expand(b, *raw.shape[1:])
    options = torch.full((b,), len(OPTIONS))

    def chain() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if workload == "per_question":
            one = [slice(i, i + 1) for i in range(b)]
            outs = [model(raw[i], answerer[i], localizer[i], options[i]) for i in one]
            return tuple(torch.cat([getattr(o, name) for o in outs])
                         for name in ("frame_scores", "keyframe_indices", "option_logits"))
        out = model(raw, answerer, localizer, options)
        return out.frame_scores, out.keyframe_indices, out.option_logits

    best = float("inf")
    with torch.no_grad():
        chain()  # warm-up: first-call allocations and kernel set-up
        for _ in range(repeat):
            start = time.perf_counter()
            scores, keyframes, logits = chain()
            best = min(best, time.perf_counter() - start)
    torch.save({"seconds": best, "scores": scores, "keyframes": keyframes, "logits": logits}, output)


def run_variant(args: argparse.Namespace, work: Path, name: str, source: Path, workload: str, attention: str = "sdpa",
                chunk: int = 0) -> dict:
    """One variant in a fresh process importing sevila from `source`."""
    output = work / f"{name}.pt"
    env = {**os.environ, "PYTHONPATH": str(source)}
    settings = [str(work / "backbone"), str(work / "inputs.pt"), str(output), workload, attention, chunk, args.repeat]
    command = [sys.executable, __file__, "--worker", json.dumps(settings)]
    subprocess.run(command, check=True, env=env, cwd=work)
    return torch.load(output)


def compare(label: str, found: dict, base: dict, questions: int) -> str:
    """One line: seconds per question, speed ratio to the baseline, largest output differences."""
    if not torch.equal(found["keyframes"], base["keyframes"]):
        raise SystemExit(f"{label}: keyframes differ from the baseline's")
    scores = (found["scores"] - base["scores"]).abs().max().item()
    finite = base["logits"].isfinite()
    logits = (found["logits"][finite] - base["logits"][finite]).abs().max().item()
    return (f"{label:<54}{found['seconds'] / questions:9.3f} {base['seconds'] / found['seconds']:7.2f}x "
            f"{scores:11.1e} {logits:11.1e}")


def variants(args: argparse.Namespace, today: Path, ours: Path) -> list[tuple[str, str, Path, str, str, int]]:
    """(label, baseline name, source, workload, attention, chunk size) of every measured variant."""
    rows = []
    for workload in ("evaluation", "one_clip"):
        rows += [(f"{workload}: today ({args.baseline})", f"today_{workload}", today, workload, "sdpa", 0),
                 (f"{workload}: this code", f"today_{workload}", ours, workload, "sdpa", 0)]
    rows += [(f"evaluation: this code, chunk_size={args.frames}", "today_evaluation", ours, "evaluation", "sdpa",
              args.frames),
             ("evaluation: this code, eager attention", "today_evaluation", ours, "evaluation", "eager", 0),
             ("per question: this code, one call per question", "today_evaluation", ours, "per_question", "sdpa", 0)]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="c8c3488", help="git revision of today's code")
    parser.add_argument("--questions", type=int, default=4)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=2, help="timed calls per variant and round, after a warm-up")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds over all variants")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(*json.loads(args.worker))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run(f"git -C {REPO} archive {args.baseline} src | tar -x -C {work}", shell=True, check=True)
        build(work, args.questions, args.frames)
        rows = variants(args, work / "src", REPO / "src")
        best: dict[str, dict] = {}
        for round_ in range(args.rounds):
            for i, (label, _, source, workload, attention, chunk) in enumerate(rows):
                found = run_variant(args, work, f"v{i}_{round_}", source, workload, attention, chunk)
                if label not in best or found["seconds"] < best[label]["seconds"]:
                    best[label] = found
        print(f"{args.questions} questions x {args.frames} frames, k=4; ViT width 512 (112 px, 65 tokens), T5 d_model "
              f"512, 6 + 6 layers; {torch.get_num_threads()} threads; best of {args.rounds} interleaved rounds x "
              f"{args.repeat} calls; baseline {args.baseline}")
        print(f"{'variant':<54}{'s/question':>9} {'speed':>8} {'max |d score|':>11} {'max |d logit|':>11}")
        bases = {f"today_{w}": best[f"{w}: today ({args.baseline})"] for w in ("evaluation", "one_clip")}
        for label, base, *_ in rows:
            print(compare(label, best[label], bases[base], args.questions))


if __name__ == "__main__":
    main()
