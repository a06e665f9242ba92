"""The papermill pipeline (`pand_core.pipeline`, `pand_core.params`): its plan, executed copies, run parameters,
the notebooks' parameters cells, its command's refusal, and the pipeline end to end with the book."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from pand_core.config import make_config
from pand_core.infra.errors import ConfigError, PipelineError
from pand_core.book.build import build_book
from pand_core.book.executed import stderr_cells
from pand_core.pipeline import make_plan, run_plan, run_studies

REPO = Path(__file__).resolve().parents[1]


def test_plan_runs_each_study_then_each_notebook_once(tmp_path):
    plan = make_plan("smoke", tmp_path, ["cub"], ["ce", "pand"], None, [0, 1])
    names = [(j.notebook, j.tag) for j in plan.jobs]
    assert names == [("00_quickstart", "smoke"), ("06_your_own_data", ""), ("01_prompt_calibration", "cub-s0"),
                     ("03_distillation", "cub-pand-mini-resnet-pand-s0"), ("02_neighborhood_graph", "cub-pand-mini-resnet"),
                     ("04_results", "smoke"), ("05_costs", "")]
    assert plan.studies == [dict(profile="smoke", dataset="cub", methods=["ce", "pand"], seeds=[0, 1],
                                 student="pand-mini-resnet", runs=tmp_path.resolve(), teacher_mode=None, data_root=None,
                                 overrides={"calibrate": {}, "distill": {}})]
    job = plan.book_copies["03_distillation"]
    assert job.marker == tmp_path.resolve() / "smoke" / "cub" / "pand-pand-mini-resnet-s0" / "result.json"
    assert not job.done(plan.out)
    paper = make_plan("paper", tmp_path, ["cub"], ["ce"], None, [0])
    assert paper.studies[0]["student"] == "resnet18"
    own = paper.book_copies["06_your_own_data"]  # its demonstration is the miniature's, whatever the plan's profile
    assert own.params == {"PROFILE": "smoke", "RUNS": str(tmp_path.resolve())}
    assert own.marker == tmp_path.resolve() / "smoke" / "folder" / "pand-pand-mini-resnet-s0" / "result.json"
    on_world = make_plan("smoke", tmp_path, ["cub"], ["ce"], None, [0], data_root=str(tmp_path / "world"))
    assert on_world.book_copies["06_your_own_data"].params["WORLD_ROOT"] == str((tmp_path / "world").resolve())
    with pytest.raises(Exception, match="unknown method"):
        make_plan("smoke", tmp_path, ["cub"], ["pandas"], None, [0])


def test_an_executed_copy_is_done_only_while_its_notebook_is_unchanged(tmp_path, monkeypatch):
    """The copy records its notebook's cell digest: editing a cell makes it out of date, editing only metadata (or
    outputs) does not, and a copy without the digest (made before it was recorded) is out of date."""
    from pand_core.book import execute
    from pand_core.book.execute import NotebookJob
    from pand_core.book.executed import stamp_source

    monkeypatch.setattr(execute, "NOTEBOOK_DIR", tmp_path / "nb")
    (tmp_path / "nb").mkdir()
    source = tmp_path / "nb" / "x.ipynb"
    nb = {"cells": [{"cell_type": "code", "source": ["a = 1\n", "print(a)"], "metadata": {}, "outputs": []}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    source.write_text(json.dumps(nb))
    job = NotebookJob("x", "", {})
    copy = job.output(tmp_path / "out")
    copy.parent.mkdir(parents=True)
    copy.write_text(json.dumps(nb))
    assert not job.done(tmp_path / "out")  # no digest recorded
    stamp_source(copy, source)
    assert job.done(tmp_path / "out")
    source.write_text(json.dumps(dict(nb, metadata={"kernelspec": {"name": "python3"}})))
    assert job.done(tmp_path / "out")  # metadata is not the notebook's content
    nb["cells"][0]["source"] = ["a = 2\n", "print(a)"]
    source.write_text(json.dumps(nb))
    assert not job.done(tmp_path / "out")


def test_the_plan_gives_the_teacher_and_schedule_to_the_studies_and_every_stage_notebook(tmp_path):
    from pand_core.params import RunParams

    run = RunParams("paper", teacher="ViT-B-32", teacher_weights="openai", stage1_epochs=3, stage2_epochs=4)
    plan = make_plan("paper", tmp_path, ["cub"], ["ce", "pand"], None, [0], run=run)
    assert plan.studies[0]["overrides"] == {"calibrate": {"teacher": "ViT-B-32", "teacher_weights": "openai", "epochs": 3},
                                            "distill": {"teacher": "ViT-B-32", "teacher_weights": "openai", "epochs": 4}}
    stage_pages = {"00_quickstart", "01_prompt_calibration", "02_neighborhood_graph", "03_distillation"}
    for job in plan.jobs:
        given = {k: job.params.get(k) for k in ("TEACHER", "TEACHER_WEIGHTS", "STAGE1_EPOCHS", "STAGE2_EPOCHS")}
        expected = {"TEACHER": "ViT-B-32", "TEACHER_WEIGHTS": "openai", "STAGE1_EPOCHS": 3, "STAGE2_EPOCHS": 4}
        assert given == (expected if job.notebook in stage_pages else dict.fromkeys(expected)), job.notebook
    with pytest.raises(ConfigError, match="TEACHER = 'ViT-B-32' needs TEACHER_WEIGHTS"):  # the paper tag is XXL's
        make_plan("paper", tmp_path, ["cub"], ["ce"], None, [0], run=RunParams("paper", teacher="ViT-B-32"))


def test_run_params_make_the_configs_a_page_runs(tmp_path, monkeypatch):
    from pand_core.params import RunParams

    monkeypatch.setenv("PAND_RUNS", str(tmp_path))
    p = RunParams("paper", teacher="pand-tiny-clip", teacher_weights="none", student="mobilenet_v2", stage1_epochs=2,
                  stage2_epochs=3, teacher_mode="bank")
    cal, dis = p.calibrate(), p.distill("pand")
    assert (cal.teacher, cal.teacher_weights, cal.epochs) == ("pand-tiny-clip", None, 2)
    assert (dis.student, dis.epochs, dis.teacher_mode, dis.teacher_weights) == ("mobilenet_v2", 3, "bank", None)
    assert dis.anchors == str(Path(cal.out) / "anchors.pt")  # learned anchors: this page's Stage 1 run
    assert p.distill("ce").anchors is None
    assert RunParams("smoke").distill("pand").epochs == make_config("distill", "smoke").epochs  # None: the profile's


NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_every_parameters_cell_parses_in_papermill(caplog):
    """papermill reads each assignment of a parameters cell (`papermill --help-notebook`, and no 'Unable to parse'
    warning during `make smoke`); the stage pages all offer a teacher choice."""
    from papermill.translators import PythonTranslator

    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        caplog.clear()
        names = {p.name for p in PythonTranslator.inspect(cell)}
        assert "Unable to parse" not in caplog.text, (path.name, caplog.text)
        assigned = {line.split("=")[0].strip() for line in cell.source.splitlines() if line[:1].isupper() and "=" in line}
        assert names == assigned, (path.name, assigned - names)
        if path.stem[:2] in ("00", "01", "02", "03"):
            assert {"PROFILE", "DATA_ROOT", "TEACHER", "TEACHER_WEIGHTS", "STAGE1_EPOCHS"} <= names, path.name


@pytest.mark.slow
def test_pipeline_end_to_end_with_failure_recovery_and_book(tmp_path, monkeypatch, synthetic_root):
    """Smoke pipeline on the small world: a failing stage stops with its name and cell and keeps earlier work;
    the rerun continues; the book is built from the executed notebooks with warnings as errors."""
    out = tmp_path / "runs"  # the teacher and student are the shipped ones: nothing is pretrained here
    bad = make_plan("smoke", out, ["cub"], ["ce", "pand"], None, [0], data_root=str(synthetic_root))
    stage1 = bad.book_copies["01_prompt_calibration"]
    stage1.params["DATASET"] = "aircraft"  # Stage 1 finds no FGVC-Aircraft files
    log = []
    with pytest.raises(PipelineError) as e:  # two at a time: the quickstart and your-own-data first, then Stage 1
        run_plan(bad, log=log.append)
    msg = str(e.value)
    assert "01_prompt_calibration.ipynb" in msg and "cell" in msg and "DatasetNotFoundError" in msg
    assert bad.jobs[0].output(bad.out).exists()  # the finished stages' copies are kept
    assert bad.book_copies["06_your_own_data"].output(bad.out).exists()
    failed = stage1.output(bad.out).with_name("01_prompt_calibration-cub-s0.failed.ipynb")
    assert failed.exists() and not stage1.output(bad.out).exists()  # the failed copy is kept aside
    assert not bad.book_copies["04_results"].output(bad.out).exists()  # nothing started after the failure

    good = make_plan("smoke", out, ["cub"], ["ce", "pand"], None, [0], data_root=str(synthetic_root))
    good.jobs[0].marker = None
    studies = run_studies(good, log=log.append)  # every run first, in this process; the notebooks then read them
    summary_path = out.resolve() / "smoke" / "cub" / "summary.json"
    assert [r["summary"] for r in studies] == [str(summary_path)]
    assert set(json.loads(summary_path.read_text())["methods"]) == {"ce", "pand"}
    trained = (out / "smoke" / "cub" / "pand-pand-mini-resnet-s0" / "result.json").stat().st_mtime_ns
    summary = run_plan(good, log=log.append)
    status = {(s["notebook"], s["tag"]): s["status"] for s in summary}
    assert status[("00_quickstart", "smoke")] == "skipped"  # finished before the failure: not redone
    assert status[("01_prompt_calibration", "cub-s0")] == "ran"
    assert all(j.output(out.resolve()).exists() for j in good.jobs)
    assert (out / "smoke" / "cub" / "pand-pand-mini-resnet-s0" / "result.json").stat().st_mtime_ns == trained  # read

    # Stray stderr in finished copies: a dependency's first-run message is scrubbed and the copy kept; anything else
    # makes the copy unfit for the book, so it is set aside and executed again — never silently reused.
    def add_stderr(job, text):
        nb = nbformat.read(str(job.output(out.resolve())), as_version=4)
        [c for c in nb.cells if c.cell_type == "code"][-1].outputs.append(
            nbformat.v4.new_output("stream", name="stderr", text=text))
        nbformat.write(nb, str(job.output(out.resolve())))

    add_stderr(good.jobs[0], "Matplotlib is building the font cache; this may take a moment.\n")
    stage1 = good.book_copies["01_prompt_calibration"]
    add_stderr(stage1, "UserWarning: a real warning\n")
    status = {(s["notebook"], s["tag"]): s["status"] for s in run_plan(good, log=log.append)}
    assert status[("00_quickstart", "smoke")] == "skipped" and status[("01_prompt_calibration", "cub-s0")] == "ran"
    assert sum(s == "ran" for s in status.values()) == 3  # that one, and the two summary pages that always rerun
    assert stderr_cells(nbformat.read(str(good.jobs[0].output(out.resolve())), as_version=4)) == []
    assert stage1.output(out.resolve()).with_name("01_prompt_calibration-cub-s0.rejected.ipynb").exists()
    assert any("not fit for the book" in line and "a real warning" in line for line in log)

    distillation = good.book_copies["03_distillation"]
    add_stderr(distillation, "UserWarning: appeared after the run\n")
    with pytest.raises(PipelineError, match="03_distillation.ipynb is not fit for the book"):
        build_book(good.executed_copies(), good.out / "book-src", REPO, tmp_path / "html")
    assert not distillation.output(out.resolve()).exists()  # set aside: the next run executes it again
    status = {(s["notebook"], s["tag"]): s["status"] for s in run_plan(good, log=log.append)}
    assert status[("03_distillation", "cub-pand-mini-resnet-pand-s0")] == "ran"
    assert status[("02_neighborhood_graph", "cub-pand-mini-resnet")] == "skipped"

    html = build_book(good.executed_copies(), good.out / "book-src", REPO, tmp_path / "html")
    pages = {p.relative_to(html).as_posix() for p in html.rglob("*.html")}
    assert {"book/intro.html", "book/method.html", "book/reproduction.html", "book/api.html", "book/gpu-recipe.html",
            "notebooks/03_distillation.html", "notebooks/04_results.html"} <= pages
    page = (html / "notebooks" / "04_results.html").read_text()
    assert "Traceback" not in page and "it/s]" not in page  # no tracebacks, no progress-bar noise
    assert (html / "_static" / "mathjax" / "tex-chtml.js").exists()  # math renders offline
    assert (html / "_static" / "tables.css").exists()  # the book's own table styles, as `make book` has them
    deviations = (html / "book" / "deviations.html").read_text()
    assert "tables.css" in deviations and 'class="deviations-table' in deviations
    assert 'class="deviations-table' not in (html / "book" / "reproduction.html").read_text()  # printed once
    # what a browser is not needed for: code and outputs fit, no builders' history, the findings box is the study's
    from pand_core.book.checks import book_problems

    assert book_problems(html, REPO / "studies" / "results" / "study.json") == []
    assert '<details class="provenance">' in (html / "book" / "miniature.html").read_text()  # provenance folded
    published = [p for p in html.rglob("*") if p.suffix in (".html", ".ipynb", ".txt", ".js") and p.is_file()]
    for page in published:  # no path of this machine, in pages or downloadable sources: injected cells are left out
        text = page.read_text(errors="replace")
        assert str(tmp_path) not in text and str(REPO) not in text and "tag_injected-parameters" not in text, page.name
    injected = nbformat.read(str(good.jobs[0].output(out.resolve())), as_version=4).cells
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in injected)  # kept in the executed copy


def test_pipeline_command_stops_a_user_error_with_one_line(tmp_path, capsys):
    from pand_core.pipeline import main

    assert main(["--methods", "pandas", "--runs", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown method(s) ['pandas']") and err.count("\n") == 1
    assert not list(tmp_path.iterdir())  # stopped before any work
