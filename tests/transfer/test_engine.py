"""Copies over real helper processes: byte-identical results both ways, verify-then-rename,
and a lane killed mid-transfer giving its chunks to the others."""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path

import pytest

from bridge.transfer import helper
from bridge.transfer.engine import Direction, Stats, copy
from bridge.transfer.lanes import Lane, TransferError
from bridge.transfer.plan import CHUNK
from tests.transfer.transfer_helpers import local_lane, tree_hashes


def make_tree(root: Path) -> None:
    rnd = random.Random(7)
    (root / "sub dir" / "ünï cödé").mkdir(parents=True)
    (root / "empty").write_bytes(b"")
    (root / "sub dir" / "name with spaces.txt").write_text("hello\n" * 1000)
    (root / "sub dir" / "ünï cödé" / "日本.bin").write_bytes(rnd.randbytes(5000))
    (root / "big.bin").write_bytes(rnd.randbytes(2 * CHUNK + 12345))  # not a multiple
    (root / "csv.csv").write_bytes(b"a,b,c,1.0,2.0\n" * 400_000)  # compresses, > CHUNK
    (root / "empty dir").mkdir()
    os.symlink("big.bin", root / "link-in")
    os.symlink("/etc/passwd", root / "link-out")  # copied as a link, never followed


def run_copy(
    direction: Direction,
    sources: list[str],
    dest: str,
    remote_home: Path,
    *,
    lanes: int = 3,
    recursive: bool = True,
    kill_after: int | None = None,
    state_dir: Path | None = None,
    chunk: int = CHUNK,
) -> Stats:
    async def main() -> Stats:
        started = [await local_lane(i, remote_home) for i in range(lanes)]
        lane_list: list[Lane] = [lane for lane, _ in started]
        killed = False

        def progress(stats: Stats) -> None:
            nonlocal killed
            if kill_after is not None and not killed and stats.bytes >= kill_after:
                killed = True
                started[0][1].kill()

        try:
            return await copy(
                direction,
                sources,
                dest,
                lane_list,
                recursive=recursive,
                progress=progress,
                state_dir=str(state_dir) if state_dir else None,
                scope="test",
                chunk=chunk,
            )
        finally:
            for lane in lane_list:
                await lane.close()

    return asyncio.run(main())


@pytest.mark.parametrize("direction", ["upload", "download"])
def test_tree_round_trip_is_byte_identical(tmp_path: Path, direction: Direction) -> None:
    local, remote = tmp_path / "local", tmp_path / "home"
    local.mkdir()
    remote.mkdir()
    src_root = local if direction == "upload" else remote
    make_tree(src_root / "data")
    if direction == "upload":
        stats = run_copy("upload", [str(local / "data")], "copy", remote)  # relative: home
        dest = remote / "copy"
    else:
        stats = run_copy("download", ["data"], str(local / "copy"), remote)
        dest = local / "copy"
    assert tree_hashes(dest) == tree_hashes(src_root / "data")
    assert (dest / "link-out").is_symlink()
    assert stats.files == 5
    assert stats.bytes == stats.total
    assert stats.wire_bytes < stats.bytes  # the CSV compressed
    assert not [p for p in dest.rglob("*.smc-part")]


def test_single_file_into_existing_folder_and_as_new_name(tmp_path: Path) -> None:
    src = tmp_path / "one.bin"
    src.write_bytes(os.urandom(CHUNK + 1))
    home = tmp_path / "home"
    (home / "into").mkdir(parents=True)
    run_copy("upload", [str(src)], "into", home, recursive=False)
    run_copy("upload", [str(src)], "renamed.bin", home, recursive=False)
    assert (home / "into" / "one.bin").read_bytes() == src.read_bytes()
    assert (home / "renamed.bin").read_bytes() == src.read_bytes()


def test_a_killed_lane_gives_its_chunks_to_the_others(tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(6 * CHUNK + 77))
    home = tmp_path / "home"
    home.mkdir()
    stats = run_copy("upload", [str(src)], "big.bin", home, kill_after=CHUNK)
    assert (home / "big.bin").read_bytes() == src.read_bytes()
    assert stats.bytes == src.stat().st_size


def test_every_lane_dead_fails_and_leaves_the_destination_untouched(tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(3 * CHUNK))
    home = tmp_path / "home"
    home.mkdir()
    (home / "big.bin").write_bytes(b"original")
    with pytest.raises(TransferError, match="every lane failed"):
        run_copy("upload", [str(src)], "big.bin", home, lanes=1, kill_after=1)
    assert (home / "big.bin").read_bytes() == b"original"


@pytest.mark.parametrize("direction", ["upload", "download"])
def test_a_rerun_resumes_and_a_changed_source_starts_afresh(
    tmp_path: Path, direction: Direction
) -> None:
    local, home, state = tmp_path / "local", tmp_path / "home", tmp_path / "state"
    local.mkdir()
    home.mkdir()
    src = (local if direction == "upload" else home) / "big.bin"
    piece = 128 << 10
    src.write_bytes(os.urandom(16 * piece + 5))
    dest = home / "copy.bin" if direction == "upload" else local / "copy.bin"
    args = ([str(src)], "copy.bin") if direction == "upload" else (["big.bin"], str(dest))

    def run(lanes: int, kill_after: int | None = None) -> Stats:
        return run_copy(
            direction, *args, home, lanes=lanes, kill_after=kill_after, state_dir=state, chunk=piece
        )

    with pytest.raises(TransferError, match="every lane failed"):
        run(1, kill_after=8 * piece)
    assert not dest.exists()
    again = run(2)
    assert again.skipped_bytes >= 8 * piece
    assert again.bytes == src.stat().st_size
    assert dest.read_bytes() == src.read_bytes()
    assert not list(tmp_path.rglob("*.smc-*"))  # no partial, no manifest left
    with pytest.raises(TransferError, match="every lane failed"):
        run(1, kill_after=8 * piece)
    os.utime(src, ns=(1, 1))  # the source changed: what landed is worth nothing
    fresh = run(2)
    assert fresh.skipped_bytes == 0
    assert dest.read_bytes() == src.read_bytes()


def test_bad_input_is_one_clear_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "dir").mkdir(parents=True)
    with pytest.raises(TransferError, match="no such file"):
        run_copy("upload", [str(tmp_path / "missing")], "x", home)
    with pytest.raises(TransferError, match="No such file"):
        run_copy("download", ["missing"], str(tmp_path / "x"), home)
    with pytest.raises(TransferError, match="use -r"):
        run_copy("download", ["dir"], str(tmp_path / "x"), home, recursive=False)
    (home / "ro").mkdir(mode=0o500)
    (tmp_path / "f").write_bytes(b"data")
    if os.geteuid() != 0:
        with pytest.raises(TransferError, match="Permission denied"):
            run_copy("upload", [str(tmp_path / "f")], "ro/f", home)


def test_a_wrong_hash_leaves_nothing_under_the_final_name(tmp_path: Path) -> None:
    dest = tmp_path / "out.bin"
    dest.write_bytes(b"original")
    helper.write_chunk(str(dest), 0, b"new data")
    with pytest.raises(OSError, match="checksum mismatch"):
        helper.finish(str(dest), 8, "0" * 64)
    assert dest.read_bytes() == b"original"
    assert not Path(helper.part_path(str(dest))).exists()


def test_frames_survive_any_split() -> None:
    frames = helper.encode("put", {"path": "a", "offset": 3}, b"xyz") + helper.encode(
        "ok", {"id": 1}
    )
    for cut in range(len(frames) + 1):
        dec = helper.Decoder()
        got = dec.feed(frames[:cut]) + dec.feed(frames[cut:])
        assert got == [("put", {"path": "a", "offset": 3}, b"xyz"), ("ok", {"id": 1}, b"")]


def test_compression_only_when_it_saves() -> None:
    assert helper.pack(os.urandom(10_000))[0] == 0
    flags, payload = helper.pack(b"a" * 10_000)
    assert flags == helper.Z and helper.unpack(flags, payload) == b"a" * 10_000
    text = b"2026-11-30,sensor,23.5\n" * 200_000
    flags, payload = helper.pack(text)  # a large piece: the sample says it compresses
    assert flags == helper.Z and helper.unpack(flags, payload) == text


def test_a_large_random_piece_is_judged_by_a_sample() -> None:
    piece = os.urandom(CHUNK)
    start = time.process_time()
    for _ in range(10):
        assert helper.pack(piece) == (0, piece)
    per_mib = (time.process_time() - start) / (10 * CHUNK / (1 << 20))
    assert per_mib < 0.01  # compressing it all costs ~0.02-0.03 s/MiB
