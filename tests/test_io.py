from __future__ import annotations

import os

import pytest

from sevila.errors import SevilaError
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


def test_atomic_open_writes_a_name_as_long_as_the_file_system_allows(tmp_path):
    name = "n" * os.pathconf(tmp_path, "PC_NAME_MAX")  # its temp name ".NAME.XXXXXXXX.tmp" is cut to fit
    write_json(tmp_path / name, [1])
    assert [p.name for p in tmp_path.iterdir()] == [name] and (tmp_path / name).read_text() == "[\n  1\n]\n"


def test_atomic_refusal_names_the_target_not_its_temp_file(tmp_path):
    (tmp_path / "out.json").mkdir()
    (tmp_path / "out.json" / "kept.txt").write_text("kept")
    with pytest.raises(SevilaError) as error:
        write_json(tmp_path / "out.json", {})
    assert str(error.value) == f"{tmp_path / 'out.json'}: is a folder, not a file; give a file path"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temp file left
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(SevilaError, match=rf"^{tmp_path / 'full'}: is a folder that is not empty; choose a new folder"):
        with atomic_dir(tmp_path / "full") as folder:
            (folder / "a.txt").write_text("a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full", "out.json"]
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["x"]


def test_atomic_open_keeps_the_body_s_own_error_about_another_path(tmp_path):
    with pytest.raises(FileNotFoundError):
        with atomic_open(tmp_path / "out.json") as handle:
            handle.write((tmp_path / "missing-input.txt").read_text())
    assert list(tmp_path.iterdir()) == []
