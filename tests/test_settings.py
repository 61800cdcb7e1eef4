"""Configuration files: discovery (nearest wins), validation (one-line errors), overrides, mirrors."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockeropt.config import Config
from dockeropt.settings import ConfigError, Overrides, clear_cache, config_for, find_settings, load_file


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    clear_cache()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_nearest_config_wins_and_pyproject_without_table_is_skipped(tmp_path: Path) -> None:
    write(tmp_path / ".dockeropt.toml", 'ignore = ["DO301"]\n')
    write(tmp_path / "svc" / "pyproject.toml", '[tool.dockeropt]\nselect = ["DO1"]\n')
    write(tmp_path / "other" / "pyproject.toml", '[project]\nname = "x"\n')  # no [tool.dockeropt]
    df_svc = write(tmp_path / "svc" / "deep" / "Dockerfile", "FROM x\n")
    df_other = write(tmp_path / "other" / "Dockerfile", "FROM x\n")
    assert config_for(df_svc).select == ["DO1"] and config_for(df_svc).ignore == []
    assert config_for(df_other).ignore == ["DO301"] and config_for(df_other).select == []
    assert find_settings(df_svc.parent).path == tmp_path / "svc" / "pyproject.toml"


def test_dockeropt_toml_beats_pyproject_in_the_same_folder(tmp_path: Path) -> None:
    write(tmp_path / ".dockeropt.toml", "default-uid = 2000\n")
    write(tmp_path / "pyproject.toml", "[tool.dockeropt]\ndefault-uid = 3000\n")
    assert config_for(tmp_path / "Dockerfile").default_uid == 2000


def test_every_setting_is_read(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", """
[tool.dockeropt]
select = ["DO1", "do301"]
ignore = ["DO102"]
safe-only = true
buildkit = "0.8"
syntax-directive = false
default-uid = 4242
bind-mount-style = true
exclude = ["legacy/**"]

[tool.dockeropt.registry-mirror]
"registry.example/distroless" = "mirror.example.internal/distroless"

[tool.dockeropt.per-file-ignores]
"services/*/Dockerfile.dev" = ["DO301"]
""")
    cfg = config_for(tmp_path / "Dockerfile")
    assert cfg.select == ["DO1", "DO301"] and cfg.ignore == ["DO102"]
    assert cfg.safe_only and not cfg.unsafe_fixes and cfg.buildkit == "0.8"
    assert cfg.default_uid == 4242 and cfg.bind_mount_style and cfg.exclude == ["legacy/**"]
    assert cfg.mirror("registry.example/distroless/static-debian12:nonroot") == (
        "mirror.example.internal/distroless/static-debian12:nonroot"
    )
    dev = config_for(tmp_path / "services" / "api" / "Dockerfile.dev")
    assert "DO301" in dev.ignore and dev.per_file_ignores == {}
    assert "DO301" not in config_for(tmp_path / "services" / "api" / "Dockerfile").ignore


@pytest.mark.parametrize(
    ("body", "key", "words"),
    [
        ('selec = ["DO1"]\n', "selec", "unknown setting"),
        ('select = ["DO199"]\n', "select", "unknown rule selector"),
        ('select = ["bogus"]\n', "select", "not a rule id"),
        ("safe-only = 1\n", "safe-only", "true or false"),
        ('buildkit = "new"\n', "buildkit", "BuildKit version"),
        ("default-uid = 0\n", "default-uid", "non-root"),
        ("safe-only = true\nunsafe-fixes = true\n", "unsafe-fixes", "contradict"),
        ('[registry-mirror]\n"a" = 3\n', "registry-mirror.a", "non-empty"),
        ('[per-file-ignores]\n"x" = ["nope"]\n', "per-file-ignores.x", "not a rule id"),
    ],
)
def test_bad_config_names_file_and_key_in_one_line(tmp_path: Path, body: str, key: str, words: str) -> None:
    cfg = write(tmp_path / ".dockeropt.toml", body)
    with pytest.raises(ConfigError) as exc:
        load_file(cfg)
    msg = str(exc.value)
    assert "\n" not in msg and str(cfg) in msg and f"key '{key}'" in msg and words in msg


def test_invalid_toml_and_pyproject_key_prefix(tmp_path: Path) -> None:
    bad = write(tmp_path / "a" / ".dockeropt.toml", "select = [\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_file(bad)
    py = write(tmp_path / "b" / "pyproject.toml", "[tool.dockeropt]\nwat = 1\n")
    with pytest.raises(ConfigError, match=r"key 'tool\.dockeropt\.wat'"):
        load_file(py)


def test_command_line_overrides_the_file(tmp_path: Path) -> None:
    write(tmp_path / ".dockeropt.toml", 'select = ["DO1"]\nignore = ["DO102"]\nsafe-only = true\nsyntax-directive = true\n')
    df = tmp_path / "Dockerfile"
    cfg = config_for(df, Overrides(select=("DO3",), ignore=("DO101",), unsafe_fixes=True, syntax_directive=False))
    assert cfg.select == ["DO3"]
    assert cfg.ignore == ["DO102", "DO101"]  # --ignore adds to the file's list
    assert cfg.unsafe_fixes and not cfg.safe_only  # the flag beats the file's safe-only
    assert cfg.syntax_directive is False
    assert config_for(df, Overrides()).syntax_directive is True


def test_mirror_matches_whole_components_and_longest_prefix() -> None:
    cfg = Config(registry_mirror={"python": "mirror.example.internal/library/python",
                                  "registry.example/distroless": "mirror.example.internal/dl",
                                  "registry.example/distroless/static-debian12": "mirror.example.internal/static"})
    assert cfg.mirror("python:3.12-slim") == "mirror.example.internal/library/python:3.12-slim"
    assert cfg.mirror("python@sha256:abc") == "mirror.example.internal/library/python@sha256:abc"
    assert cfg.mirror("pythonista:1") == "pythonista:1"
    assert cfg.mirror("registry.example/distroless/static-debian12:nonroot") == "mirror.example.internal/static:nonroot"
    assert cfg.mirror("registry.example/distroless/cc-debian12") == "mirror.example.internal/dl/cc-debian12"
    assert Config().mirror("node:20") == "node:20"
