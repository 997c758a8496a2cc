from __future__ import annotations

import os

import pytest

from sevila.io import atomic_dir, atomic_open, write_json


def test_atomic_open_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_open(target) as handle:
            handle.write("half")
            raise RuntimeError("killed")
    assert target.read_text() == '{\n  "a": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temp file left behind


def test_atomic_open_gives_the_usual_permissions(tmp_path):
    write_json(tmp_path / "out.json", [])
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "out.json").stat().st_mode & 0o777 == 0o666 & ~umask


def test_atomic_dir_appears_whole_with_the_usual_permissions(tmp_path):
    with atomic_dir(tmp_path / "folder") as folder:
        (folder / "a.txt").write_text("a")
        assert not (tmp_path / "folder").exists()  # nothing is visible until the folder is complete
    assert [p.name for p in tmp_path.iterdir()] == ["folder"]
    assert (tmp_path / "folder" / "a.txt").read_text() == "a"
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "folder").stat().st_mode & 0o777 == 0o777 & ~umask


def test_atomic_dir_leaves_nothing_when_filling_fails(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "folder") as folder:
            (folder / "half.bin").write_bytes(b"x")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
