"""Load-or-compute stages (`pand_core.stages`): a finished run is read back, not recomputed, and a run of another
configuration is refused; which config differences count (`config_diff`, `config_changes`)."""

from __future__ import annotations

import json

import pytest

from pand_core.config import make_config
from pand_core.infra.errors import ConfigError


def test_stages_load_finished_runs_and_refuse_other_configs(tmp_path, monkeypatch, synthetic_root):
    from pand_core.stage1 import calibrate as cal_mod
    from pand_core.stages import calibrated

    monkeypatch.setenv("PAND_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("PAND_CACHE", str(tmp_path / "cache"))
    cfg = make_config("calibrate", "smoke", data_root=str(synthetic_root), teacher="pand-tiny-clip", epochs=2, n_ctx=4)
    first = calibrated(cfg, progress=False)
    monkeypatch.setattr(cal_mod, "calibrate", lambda *a, **k: (_ for _ in ()).throw(AssertionError("recomputed")))
    assert calibrated(cfg) == json.loads(json.dumps(first))
    other = make_config("calibrate", "smoke", data_root=str(synthetic_root), teacher="pand-tiny-clip", epochs=3, n_ctx=4)
    with pytest.raises(ConfigError, match=r"another configuration[\s\S]*epochs: 2 != 3"):
        calibrated(other)


def test_a_run_saved_before_named_random_streams_is_not_taken_for_one_after(tmp_path):
    """A config.json without `seeding` was written when views and batches were seeded by bare tags: it differs
    from a config of this code, while any other option a run saved before it existed counts as its default."""
    from pand_core.config import config_diff, to_dict
    from pand_core.infra.seeds import SEEDING_VERSION

    current = to_dict(make_config("distill", "smoke"))
    old = {k: v for k, v in current.items() if k not in ("seeding", "early_stop_patience")}
    assert config_diff(old, current) == [f"seeding: 1 != {SEEDING_VERSION}"]
    assert config_diff(dict(old, seeding=SEEDING_VERSION), current) == []


def test_config_changes_ignore_what_a_resume_may_change(tmp_path):
    from pand_core.infra.files import write_json
    from pand_core.config import config_changes
    from pand_core.infra.rundir import read_config, started

    assert not started(tmp_path)
    write_json(tmp_path / "config.json", {"epochs": 2, "out": "a", "device": "cpu"})
    assert started(tmp_path) and read_config(tmp_path)["epochs"] == 2
    assert config_changes(tmp_path, {"epochs": 2, "out": "b", "device": "cuda"}) == []
    assert config_changes(tmp_path, {"epochs": 3, "out": "a", "device": "cpu"}) == ["epochs: 2 != 3"]
