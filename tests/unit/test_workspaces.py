"""Workspace names and locations, and the key grants that decide who reads and writes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from arag.server.access import DEFAULT_GRANT, Access, GrantsError, parse_grants
from arag.server.errors import ApiError
from graph.config import Context
from tools.workspaces import WorkspaceNameError, list_workspaces, workspace_dir


def test_the_default_workspace_is_the_data_directory_itself(tmp_path):
    assert workspace_dir(tmp_path, "default") == tmp_path
    assert workspace_dir(tmp_path, "team-a") == tmp_path / "workspaces" / "team-a"
    ctx = Context(data_dir=str(tmp_path), workspace="team-a", tenant="acme")
    assert ctx.index_dir() == tmp_path / "workspaces" / "team-a"
    assert ctx.weaviate_tenant() == "team-a"
    assert Context(data_dir=str(tmp_path), tenant="acme").weaviate_tenant() == "acme"


@pytest.mark.parametrize("name", ["", "..", "../x", "a/b", "Team", ".hidden", "x" * 64, "a b"])
def test_names_that_could_leave_the_workspaces_folder_are_refused(tmp_path, name):
    with pytest.raises(WorkspaceNameError, match="invalid: use 1-63 lower-case"):
        workspace_dir(tmp_path, name)


def test_workspaces_are_listed_default_first(tmp_path):
    for name in ("team-b", "team-a", "Not-A-Name"):
        (tmp_path / "workspaces" / name).mkdir(parents=True)
    assert list_workspaces(tmp_path) == ["default", "team-a", "team-b"]
    assert list_workspaces(tmp_path / "missing") == ["default"]


def test_grants_parse_and_a_key_without_one_keeps_the_default_read_only():
    grants = parse_grants(
        "alice read=default,team-a write=team-a\n# ops\nops read=* write=*", ["alice", "ops", "eve"]
    )
    assert grants["alice"].reads("team-a") and not grants["alice"].writes("default")
    assert grants["ops"].reads("anything") and grants["ops"].writes("anything")
    access = Access(grants, "/nonexistent")
    assert access.grant("eve") == DEFAULT_GRANT
    assert access.readable("eve", None) == "default"
    with pytest.raises(ApiError) as refused:
        access.writable("eve", "default")
    assert refused.value.status == 403


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("mallory read=default", "names 'mallory', which is no API key name"),
        ("alice read=Team", "Workspace name 'Team' is invalid"),
        ("alice admin=x", "expected read=ws1,ws2"),
        ("alice read=a; alice write=a", "names 'alice' twice"),
    ],
)
def test_malformed_grants_are_refused_with_the_reason(spec, message):
    with pytest.raises(GrantsError, match=message):
        parse_grants(spec, ["alice"])


def test_without_keys_the_local_user_may_do_everything(tmp_path):
    (tmp_path / "workspaces" / "team-a").mkdir(parents=True)
    access = Access({}, str(tmp_path), keyed=False)
    assert access.readable("local", "team-a") == "team-a"
    assert access.writable("local", "new-one") == "new-one"
    with pytest.raises(ApiError) as missing:
        access.readable("local", "team-z")
    assert missing.value.status == 404 and missing.value.code == "workspace_not_found"
    assert Path(access.workspace_path("team-a")).is_dir()


def test_workspace_thresholds_replace_the_service_wide_ones_but_not_run_time_values(
    monkeypatch,
):
    monkeypatch.setenv("ARAG_PROBE_WEAK", "0.3")
    own = {"probe_weak": 0.6, "relevance_threshold": 0.7}
    ctx = Context().with_workspace_thresholds(own)
    assert (ctx.probe_weak, ctx.relevance_threshold, ctx.probe_strong) == (0.6, 0.7, 0.6)
    assert ctx.score_thresholds("What is sodium?") == (0.6, 0.7)
    explicit = Context(relevance_threshold=0.2).with_workspace_thresholds(own)
    assert (explicit.probe_weak, explicit.relevance_threshold) == (0.6, 0.2)


def test_threshold_settings_are_checked_before_they_are_written(tmp_path):
    from tools.workspace_settings import (
        SETTINGS_FILE,
        WorkspaceSettingsError,
        read_thresholds,
        write_thresholds,
    )

    assert read_thresholds(tmp_path) == {}
    assert write_thresholds(tmp_path, {"probe_weak": 0.5, "probe_strong": 0.8}) == {
        "probe_strong": 0.8,
        "probe_weak": 0.5,
    }
    for bad, message in (
        ({"probe_weak": 1.5}, "between 0 and 1"),
        ({"k": 3}, "'k' is no workspace threshold"),
        ({"probe_weak": "high"}, "must be a number"),
    ):
        with pytest.raises(WorkspaceSettingsError, match=message):
            write_thresholds(tmp_path, bad)
    assert write_thresholds(tmp_path, {"probe_strong": None}) == {"probe_weak": 0.5}
    assert read_thresholds(tmp_path) == {"probe_weak": 0.5}
    (tmp_path / SETTINGS_FILE).write_text('{"thresholds": {"probe_weak": 7}}')
    with pytest.raises(WorkspaceSettingsError, match=f"{SETTINGS_FILE}: probe_weak must be"):
        read_thresholds(tmp_path)
