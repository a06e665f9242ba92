"""The `pand` command: every entry point is a subcommand, each the same as `python -m pand_core.<module>`, and
one name per flag (`--runs` for the runs folder, `--data-root` for the data sets)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pand_core import cli


def test_pand_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--help"])
    assert stop.value.code == 0
    listed = capsys.readouterr().out
    for name in ("calibrate", "distill", "data", *cli.SUBCOMMANDS):
        assert f"    {name}" in listed, name


@pytest.mark.parametrize("name", sorted(cli.SUBCOMMANDS))
def test_each_subcommand_is_its_modules_command_line(name, capsys):
    """`pand NAME --help` is the module's own parser, under the name `pand NAME`."""
    with pytest.raises(SystemExit) as stop:
        cli.main([name, "--help"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: pand {name} ")


def test_the_runs_folder_and_the_data_root_have_one_flag_each(capsys):
    for name in ("study", "pipeline", "deviations", "regimes"):
        with pytest.raises(SystemExit):
            cli.main([name, "--help"])
        assert "--runs RUNS" in capsys.readouterr().out, name
    for argv in (["study", "--help"], ["pipeline", "--help"], ["data", "download", "--help"]):
        with pytest.raises(SystemExit):
            cli.main(argv)
        assert "--data-root DATA_ROOT" in capsys.readouterr().out, argv


def test_a_bad_flag_of_a_subcommand_is_one_error_line():
    proc = subprocess.run([sys.executable, "-m", "pand_core", "study", "--no-such-flag"], capture_output=True,
                          text=True)
    assert proc.returncode == 2 and "pand study: error: unrecognized arguments: --no-such-flag" in proc.stderr
