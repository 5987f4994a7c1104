"""The dbt naming rule (README, dbt models), checked over the manifest of `dbt parse` (no Spark)."""

from __future__ import annotations

import json
from pathlib import PurePosixPath

import pytest

from pipeline.platform.config import load_settings
from pipeline.transform.runner import dbt_args

LAYER_PREFIX = {"intermediate": ("int_",), "cleaned": ("cleaned_", "quarantined_")}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    from dbt.cli.main import dbtRunner

    target = tmp_path_factory.mktemp("dbt_target")
    result = dbtRunner().invoke(dbt_args(load_settings(), ["parse", "--target-path", str(target)]))
    assert result.success, result.exception
    return json.loads((target / "manifest.json").read_text())


@pytest.fixture(scope="module")
def models(manifest) -> dict[str, dict]:
    return {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}


def _path(node: dict) -> PurePosixPath:
    return PurePosixPath(node["original_file_path"]).relative_to("models")


def test_staging_models_are_stg_source__entity_and_the_only_readers_of_sources(models):
    for name, node in models.items():
        path = _path(node)
        sources = {s.split(".")[2] for s in node["depends_on"]["nodes"] if s.startswith("source.")}
        if path.parts[0] == "staging":
            source = path.parts[1]
            assert len(path.parts) == 3 and name.startswith(f"stg_{source}__"), (name, str(path))
            assert sources <= {source}, (name, sources)
        else:
            assert not sources, f"{name} reads sources {sources}: only staging models may"


def test_layers_and_marts_carry_their_prefix(models):
    for name, node in models.items():
        layer, *rest = _path(node).parts
        if layer in LAYER_PREFIX:
            assert name.startswith(LAYER_PREFIX[layer]), name
        if layer == "marts":
            area = rest[0]
            assert len(rest) == 2 and not name.startswith(("stg_", "int_", "cleaned_")), name
            assert name.startswith("dim_") == (area == "core"), f"{name} in marts/{area}"


def test_each_folder_documents_its_models_in_one_models_yml(models):
    for name, node in models.items():
        folder = _path(node).parent
        expected = f"recolake://models/{folder}/_{folder.name}__models.yml"
        assert node["patch_path"] == expected, (name, node["patch_path"])
        assert node["description"].strip(), name
        undocumented = [c for c, column in node["columns"].items() if not column["description"].strip()]
        assert not undocumented, (name, undocumented)


def test_every_macro_is_documented_and_each_override_is_a_file_named_after_it(manifest):
    """`dbt docs` shows every macro of the project; a newcomer finds what replaces dbt's own by file name."""
    ours = [m for m in manifest["macros"].values() if m["package_name"] == "recolake"]
    assert len(ours) >= 25
    undocumented = [m["name"] for m in ours if not m["description"].strip()]
    assert not undocumented, undocumented
    builtin = {m["name"] for m in manifest["macros"].values() if m["package_name"] in ("dbt", "dbt_spark")}

    def overrides_dbt(name: str) -> bool:  # dbt's own, or the Spark implementation of a dispatched one
        return name in builtin or (name.startswith("spark__") and f"default__{name[7:]}" in builtin)

    overrides = {m["name"]: PurePosixPath(m["original_file_path"]) for m in ours if overrides_dbt(m["name"])}
    assert {"spark__get_merge_sql", "should_full_refresh", "spark__get_where_subquery",
            "spark__tblproperties_clause", "generate_schema_name"} <= set(overrides)
    for name, path in overrides.items():
        # a generic test `{% test x %}` is the macro test_x, and dbt's convention names its file x.sql
        expected = name.removeprefix("test_") if path.parts[:2] == ("tests", "generic") else name
        assert path.stem == expected, f"{name} overrides dbt's macro of that name but lives in {path}"
    assert overrides.get("test_relationships") == PurePosixPath("tests/generic/relationships.sql")
    for m in ours:  # one YAML per macro folder, as for models
        folder = PurePosixPath(m["original_file_path"]).parent
        assert m["patch_path"] == f"recolake://{folder}/_{folder.name}__macros.yml", (m["name"], m["patch_path"])
