"""The compilation cache between processes: correct by construction, and safe.

Compiled programs are kept by JAX's own persistent cache (keyed by the lowered computation), in a
folder private to the user. These tests try to break it: a law with other bounds and the
registered one in turn, planted files that would run code if anything were unpickled or followed,
and folders that are not ours.
"""

import json
import os
import pickle
import stat
import subprocess
import sys

import pytest

from scalinglaws._jax import private_folder

_ENABLE = "import scalinglaws as sl; print(sl.enable_compilation_cache())"

_FIT = """
import dataclasses, json, sys
import scalinglaws as sl
assert sl.enable_compilation_cache()
law = sl.get_law("chinchilla")
if sys.argv[1] == "modified":  # alpha bounded to (0, 0.3): another computation under the same law name
    law = dataclasses.replace(law, params=tuple(
        dataclasses.replace(p, bounds=(0.0, 0.3), start=(0.05, 0.29)) if p.name == "alpha" else p for p in law.params))
r = sl.fit(law, sl.load_dataset("chinchilla"))
print(json.dumps({"alpha": r.params["alpha"], "objective": r.objective, "status": r.status, "at_bound": r.at_bound}))
"""


def _run(code_or_args, cache, *, cli=False):
    env = {**os.environ, "SCALINGLAWS_JAX_CACHE": str(cache)}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    args = [sys.executable, "-c", "from scalinglaws.cli import main; main()", *code_or_args] if cli else \
        [sys.executable, "-c", _FIT, code_or_args]
    return subprocess.run(args, capture_output=True, text=True, timeout=600, env=env)


def test_a_law_with_other_bounds_never_meets_the_registered_laws_programs(tmp_path):
    """Modified, then registered, then modified again, each in a fresh process sharing one cache."""
    out = []
    for which in ("modified", "registered", "modified"):
        res = _run(which, tmp_path)
        assert res.returncode == 0, res.stderr[-2000:]
        out.append(json.loads(res.stdout))
    registered = out[1]
    assert registered["alpha"] == pytest.approx(0.347310, rel=1e-5)
    assert registered["objective"] == pytest.approx(1.0182740e-3, rel=1e-7) and registered["status"] == "converged"
    for modified in (out[0], out[2]):  # the true optimum of the modified law sits on its bound
        assert modified["alpha"] == pytest.approx(0.3, rel=1e-5) and modified["at_bound"] == ["alpha"]
        assert modified["objective"] == pytest.approx(1.06724605e-3, rel=1e-6)
    assert any(tmp_path.rglob("*")), "the cache folder was not used"


class _Payload:
    """Unpickling this runs a shell command that leaves a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_planted_files_in_the_cache_folder_run_nothing(tmp_path):
    cache = tmp_path / "cache"
    marker = tmp_path / "PWNED"
    first = _run(["fit", "chinchilla", "--law", "chinchilla", "--format", "json"], cache, cli=True)
    assert first.returncode == 0, first.stderr[-2000:]
    expected = json.loads(first.stdout)["params"]
    payload = pickle.dumps(_Payload(marker))
    entries = [p for p in cache.rglob("*") if p.is_file()]
    assert entries, "the first run stored nothing"
    for p in entries:  # every entry JAX stored is now a pickle that would run a command
        p.write_bytes(payload)
    # what older versions read: stored programs and read-ahead lists pointing inside and outside the folder
    outside = tmp_path / "outside.xla"
    outside.write_bytes(payload)
    (cache / "programs" / "recent").mkdir(parents=True)
    planted = cache / "programs" / f"{'a' * 24}-{'b' * 32}.xla"
    planted.write_bytes(payload)
    for name in ("x" * 24, "0" * 24):
        (cache / "programs" / "recent" / name).write_text(f"{planted}\n{outside}\n")
    for args in (["laws"], ["fit", "chinchilla", "--law", "chinchilla", "--format", "json"]):
        res = _run(args, cache, cli=True)
        assert res.returncode == 0, res.stderr[-2000:]
        assert "Traceback" not in res.stderr
    assert json.loads(res.stdout)["params"] == pytest.approx(expected, rel=1e-9)
    assert not marker.exists(), "a planted file ran code"


def test_the_cache_folder_is_made_private_and_one_others_could_write_to_is_not_used(tmp_path):
    readable = tmp_path / "readable"
    readable.mkdir()
    os.chmod(readable, 0o755)  # others could read, not write: closed, used
    assert private_folder(str(readable)) == str(readable)
    assert stat.S_IMODE(os.stat(readable).st_mode) == 0o700
    writable = tmp_path / "writable"
    writable.mkdir()
    os.chmod(writable, 0o777)
    (writable / "thesis.tex").write_text("precious")  # a folder pointed at by mistake: nothing is touched
    assert private_folder(str(writable)) is None
    assert (writable / "thesis.tex").read_text() == "precious" and stat.S_IMODE(os.stat(writable).st_mode) == 0o777
    fresh = tmp_path / "a" / "b"
    assert private_folder(str(fresh)) == str(fresh)
    assert stat.S_IMODE(os.stat(tmp_path / "a").st_mode) == 0o700  # parents it creates too
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o700


def test_a_link_is_used_as_its_target_and_a_file_not_at_all(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)
    assert private_folder(str(link)) == str(target)  # JAX is given the target: swapping the link later moves nothing
    file = tmp_path / "file"
    file.write_text("x")
    assert not private_folder(str(file))


def test_a_folder_others_could_replace_is_not_used(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)  # anyone may rename what is inside
    assert not private_folder(str(shared / "cache"))
    os.chmod(shared, 0o1777)  # sticky, as /tmp is: only the owner of an entry may rename it
    assert private_folder(str(shared / "cache"))


def test_links_and_relative_paths_are_resolved_before_the_checks(tmp_path, monkeypatch):
    safe = tmp_path / "safe"
    safe.mkdir(mode=0o700)
    open_ = tmp_path / "open"
    open_.mkdir()
    os.chmod(open_, 0o777)  # anyone may replace what is inside
    (open_ / "link").symlink_to(safe)  # the link itself sits where anyone could swap it
    assert private_folder(str(open_ / "link" / "cache")) == str(safe / "cache")  # resolved: the link is not used
    (open_ / "sub").mkdir()
    (safe / "lnk").symlink_to(open_ / "sub")
    (safe / "cache").mkdir(mode=0o700, exist_ok=True)
    assert private_folder(str(safe / "lnk" / ".." / "cache")) is None  # really open/cache, in an open folder
    monkeypatch.chdir(safe)
    assert private_folder("rel") == str(safe / "rel")  # relative: made absolute, so a later chdir cannot move it


@pytest.mark.skipif(os.getuid() != 0, reason="giving a folder to another user needs root")
def test_a_folder_owned_by_another_user_is_not_used(tmp_path):
    other = tmp_path / "other"
    other.mkdir(mode=0o700)
    os.chown(other, 65534, 65534)
    assert not private_folder(str(other))
    res = subprocess.run([sys.executable, "-c", _ENABLE], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "SCALINGLAWS_JAX_CACHE": str(other)})
    assert res.returncode == 0 and res.stdout.strip() == "None", res.stderr[-2000:]


def test_the_cache_can_be_turned_off():
    res = subprocess.run([sys.executable, "-c", _ENABLE], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "SCALINGLAWS_JAX_CACHE": "0"})
    assert res.returncode == 0 and res.stdout.strip() == "None", res.stderr[-2000:]


def test_importing_the_package_leaves_jaxs_cache_options_alone(tmp_path):
    code = ("import jax, scalinglaws as sl; c = jax.config; "
            "print(c.jax_compilation_cache_dir, c.jax_persistent_cache_min_compile_time_secs); "
            "print(sl.enable_compilation_cache(), c.jax_compilation_cache_max_size)")
    env = {**os.environ, "SCALINGLAWS_JAX_CACHE": str(tmp_path / "c")}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    untouched, enabled = res.stdout.split("\n")[:2]
    assert untouched == "None 1.0"
    folder, size = enabled.split()
    assert folder.startswith(str(tmp_path / "c")) and int(size) == -1  # not pruned: see _jax's docstring


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="memory maps are counted on Linux")
def test_a_crowded_process_lets_go_of_its_programs_before_building_more(monkeypatch, chinchilla_runs):
    """XLA's CPU backend maps each kernel's code separately, and past ``vm.max_map_count`` maps it
    crashes the process (the whole suite once died so, in compilation). Before a fit, and before a
    new program is built, a process holding more than half its allowance lets go of every program
    the package keeps, and the fit after it is the same; a release that freed little does not
    repeat at every build."""
    import scalinglaws as sl
    from scalinglaws import _jax
    from scalinglaws.fit._newton import compiled_polisher

    monkeypatch.setattr(_jax, "_floor", 0)
    first = sl.fit("chinchilla", chinchilla_runs, fix={"E": 1.8})
    assert compiled_polisher.cache_info().currsize >= 1
    held = _jax.map_count()
    monkeypatch.setattr(_jax, "max_map_count", lambda: int(held / _jax.MAPS_SHARE) - 1)  # just over the share
    monkeypatch.setattr(_jax, "compiled_since_look", 0)
    assert not _jax.release_programs_if_crowded()  # nothing compiled since it last looked: no new maps of ours
    monkeypatch.setattr(_jax, "compiled_since_look", 1)
    assert _jax.release_programs_if_crowded()
    assert all(cache.cache_info().currsize == 0 for cache in _jax._PROGRAM_CACHES)
    assert _jax.map_count() < held - 400  # the executables' code maps are gone with them

    again = sl.fit("chinchilla", chinchilla_runs, fix={"E": 1.8})  # compiles anew
    assert again.params == first.params and again.status == first.status
    floor = _jax._floor
    allowance = int(floor / _jax.MAPS_SHARE) - 1  # crowded, yet not a RELEASE_GAIN above the last release
    monkeypatch.setattr(_jax, "max_map_count", lambda: allowance)
    monkeypatch.setattr(_jax, "compiled_since_look", 1)
    assert _jax.map_count() > _jax.MAPS_SHARE * allowance and not _jax.release_programs_if_crowded()

    monkeypatch.setattr(_jax, "_floor", 0)
    monkeypatch.setattr(_jax, "max_map_count", lambda: None)  # no allowance to read (not Linux): nothing let go
    monkeypatch.setattr(_jax, "compiled_since_look", 1)
    assert not _jax.release_programs_if_crowded()


def test_every_fit_looks_for_room_when_something_was_compiled(monkeypatch, chinchilla_runs):
    """A cached program compiles anew for each new problem size without a cache miss, so the fit's
    entry point looks too; it reads the process's maps only when XLA compiled something since the
    last look (reading them costs ~20 ms at 30,000 maps)."""
    import scalinglaws as sl
    from scalinglaws import _jax

    sl.fit("chinchilla", chinchilla_runs)  # its programs compiled (or already there)
    looks = []
    monkeypatch.setattr(_jax, "map_count", lambda: looks.append(1) or 0)
    monkeypatch.setattr(_jax, "compiled_since_look", 0)
    sl.fit("chinchilla", chinchilla_runs)
    assert looks == []  # nothing compiled since: no look
    monkeypatch.setattr(_jax, "compiled_since_look", 3)  # as after a fit of a new size
    sl.fit("chinchilla", chinchilla_runs)
    assert looks == [1] and _jax.compiled_since_look == 0


def test_a_cache_entry_that_cannot_be_read_or_written_is_compiled_anew_quietly(tmp_path):
    """Damaged entries (a truncated file, JAX's bookkeeping files removed) cost a compile, never a
    warning on stderr: the command's one-line contract holds."""
    cache = tmp_path / "cache"
    args = ["fit", "chinchilla", "--law", "chinchilla", "--format", "json"]
    first = _run(args, cache, cli=True)
    assert first.returncode == 0, first.stderr[-2000:]
    entries = [p for p in cache.rglob("*") if p.is_file()]
    for p in entries[: len(entries) // 2]:
        p.write_bytes(p.read_bytes()[:10])  # truncated
    for p in entries[len(entries) // 2:]:
        p.unlink()
    again = _run(args + ["--loss", "mse"], cache, cli=True)
    assert again.returncode == 0 and again.stderr == "", again.stderr[-2000:]
    res = _run(args, cache, cli=True)
    assert res.returncode == 0 and res.stderr == "", res.stderr[-2000:]
    assert json.loads(res.stdout)["params"] == pytest.approx(json.loads(first.stdout)["params"], rel=1e-9)
