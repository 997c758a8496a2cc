"""Seeded variants of real files (truncated, bit-flipped, random, pathological splices) and the rule each must obey.

The rule, for every variant a reader is given: either it reads (exit 0, a correct result) or it refuses with
exit code 2 and exactly one stderr line `sevila VERB: error: ...` naming the file; never a traceback, and an
output that existed before is byte-for-byte unchanged after a refusal.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sevila.cli import main

# What the bad-input catalogue lists for text files, spliced in at a random place.
SPLICES = (b"[" * 50_000, b"{\"a\":" * 30_000, b"9" * 5_000, b"-" + b"7" * 4_400, b"NaN", b"-Infinity", b"1e999",
           b"\"qid\": \"x\", \"qid\": \"y\", ", b"\xef\xbb\xbf", b"\x00", b"\xff\xfe", b"\"", b"\"unclosed,",
           b"x" * 140_000, b"\r", b"\n\n", b"\\u0000", b"\\ud800")


@dataclass(frozen=True)
class Variant:
    """One damaged copy of a real file, and how it was made (for the failure message)."""

    kind: str
    data: bytes


def variants(data: bytes, count: int, seed: int, text: bool = True) -> Iterator[Variant]:
    """`count` variants of `data` in turn: truncated, bit-flipped (1-8 bits), random bytes and, for text, a splice."""
    rng = random.Random(seed)
    kinds = ("truncated", "bit-flipped", "random", "spliced") if text else ("truncated", "bit-flipped", "random")
    for index in range(count):
        kind = kinds[index % len(kinds)]
        if kind == "truncated":
            yield Variant(kind, data[: rng.randrange(len(data))])
        elif kind == "bit-flipped":
            flipped = bytearray(data)
            for _ in range(rng.randint(1, 8)):
                flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
            yield Variant(kind, bytes(flipped))
        elif kind == "random":
            yield Variant(kind, rng.randbytes(rng.randrange(2 * len(data) + 1)))
        else:
            at = rng.randrange(len(data) + 1)
            yield Variant(kind, data[:at] + rng.choice(SPLICES) + data[at:])


@dataclass
class Tally:
    """What a reader did with its variants: `read` or `refused`, by kind."""

    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, variant: Variant, outcome: str) -> None:
        self.outcomes[(variant.kind, outcome)] += 1

    def total(self, outcome: str) -> int:
        return sum(n for (_, done), n in self.outcomes.items() if done == outcome)


def run_cli(
    capsys: pytest.CaptureFixture[str], argv: Sequence[str], named: Path | None, outputs: Sequence[Path] = ()
) -> tuple[int, str]:
    """Run `sevila argv` in-process under the rule; returns (exit code, stdout). A refusal must name `named`."""
    before = {path: path.read_bytes() for path in outputs if path.exists()}
    code = main(list(argv))
    out, err = capsys.readouterr()
    if code == 0:
        return code, out
    assert code == 2, f"exit {code}: {err[-2000:]}"
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"sevila {argv[0]}: error: "), err[-2000:]
    assert named is None or str(named) in lines[0], f"the error does not name {named}: {lines[0]}"
    assert "weights_only" not in lines[0], lines[0]
    for path, data in before.items():
        assert path.read_bytes() == data, f"{path} changed although the command refused its input"
    return code, out


def fuzz(
    tmp_path: Path, data: bytes, count: int, seed: int, suffix: str, check: Callable[[Path], str], text: bool = True
) -> Tally:
    """Write each variant to `tmp_path/input<suffix>` and `check` it; a failing variant is kept for a look."""
    tally, target = Tally(), tmp_path / f"input{suffix}"
    for index, variant in enumerate(variants(data, count, seed, text)):
        target.write_bytes(variant.data)
        try:
            tally.add(variant, check(target))
        except (Exception, SystemExit) as error:  # say which variant broke the rule, and keep it
            kept = tmp_path / f"failing_{index}{suffix}"
            kept.write_bytes(variant.data)
            raise AssertionError(f"variant {index} ({variant.kind}, kept as {kept}): {type(error).__name__}: "
                                 f"{error}") from error
    print(f"{target.name}: {dict(sorted(tally.outcomes.items()))}")  # shown with -s
    return tally
