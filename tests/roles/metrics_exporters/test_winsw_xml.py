"""WinSW service definitions rendered by the role are well-formed and secret-free.

The XML is rendered with the role's own defaults and variables on the
controller (no Windows host), then parsed with xml.etree.
"""

from __future__ import annotations

import urllib.parse
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from .conftest import POSTGRES_PASSWORD, REDIS_PASSWORD, run_playbook

HERE = Path(__file__).resolve().parent
INSTALL_DIR = r"C:\Program Files\whispermon\exporters"
DATA_DIR = r"C:\ProgramData\whispermon\exporters"


def parse_xml(text: str) -> ET.Element:
    """Parse XML that this test rendered itself, so no untrusted input."""
    return ET.fromstring(text)  # noqa: S314


def split_windows_command_line(line: str) -> list[str]:
    """Split a command line as CommandLineToArgvW does (backslashes, quotes)."""
    arguments: list[str] = []
    current: list[str] = []
    in_quotes = False
    has_argument = False
    index = 0
    while index < len(line):
        char = line[index]
        if char == "\\":
            count = 0
            while index < len(line) and line[index] == "\\":
                count += 1
                index += 1
            if index < len(line) and line[index] == '"':
                current.append("\\" * (count // 2))
                if count % 2:
                    current.append('"')
                    index += 1
            else:
                current.append("\\" * count)
            has_argument = True
            continue
        if char == '"':
            in_quotes = not in_quotes
            has_argument = True
        elif char in " \t" and not in_quotes:
            if has_argument:
                arguments.append("".join(current))
                current = []
                has_argument = False
        else:
            current.append(char)
            has_argument = True
        index += 1
    if has_argument:
        arguments.append("".join(current))
    return arguments


def render(tmp_path: Path, overrides: dict[str, object]) -> dict[str, str]:
    result = run_playbook(HERE / "render.yml", {"out_dir": str(tmp_path), **overrides})
    assert result.returncode == 0, result.stdout + result.stderr
    return {name: (tmp_path / f"{name}.xml").read_text() for name in ("postgres", "redis")}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return render(tmp_path_factory.mktemp("winsw"), {})


@pytest.mark.parametrize("name", ["postgres", "redis"])
def test_winsw_xml_well_formed(rendered: dict[str, str], name: str) -> None:
    root = parse_xml(rendered[name])
    assert root.tag == "service"
    assert root.findtext("id") == f"whispermon-{name}-exporter"
    assert root.findtext("startmode") == "Automatic"


@pytest.mark.parametrize("name", ["postgres", "redis"])
def test_winsw_xml_managed_comment_first(rendered: dict[str, str], name: str) -> None:
    assert rendered[name].startswith("<!--")


def test_postgres_arguments_survive_quoting(rendered: dict[str, str]) -> None:
    root = parse_xml(rendered["postgres"])
    assert root.findtext("executable") == INSTALL_DIR + r"\postgres_exporter\postgres_exporter.exe"
    arguments = split_windows_command_line(root.findtext("arguments") or "")
    assert arguments == [
        "--web.listen-address=127.0.0.1:9187",
        "--extend.query-path=" + INSTALL_DIR + r"\postgres_exporter\queries.yaml",
    ]


def test_postgres_env_has_no_password(rendered: dict[str, str]) -> None:
    root = parse_xml(rendered["postgres"])
    env = {element.get("name"): element.get("value") for element in root.findall("env")}
    assert env["DATA_SOURCE_NAME"] == (
        "postgresql://whispermon@127.0.0.1:5432/postgres?sslmode=disable"
    )
    assert env["PGPASSFILE"] == DATA_DIR + r"\secrets\pgpass.conf"


def test_redis_arguments_survive_quoting(rendered: dict[str, str]) -> None:
    root = parse_xml(rendered["redis"])
    arguments = split_windows_command_line(root.findtext("arguments") or "")
    assert arguments == [
        "-web.listen-address=127.0.0.1:9121",
        "-redis.addr=redis://127.0.0.1:6379",
        "-redis.password-file=" + DATA_DIR + r"\secrets\redis-password.json",
        "-check-single-keys=db0=celery",
    ]


@pytest.mark.parametrize("name", ["postgres", "redis"])
def test_winsw_restart_policy(rendered: dict[str, str], name: str) -> None:
    root = parse_xml(rendered[name])
    actions = root.findall("onfailure")
    assert [action.get("action") for action in actions] == ["restart", "restart", "restart"]
    assert [action.get("delay") for action in actions] == ["10 sec", "10 sec", "30 sec"]
    assert root.findtext("resetfailure") == "24 hour"


@pytest.mark.parametrize("name", ["postgres", "redis"])
def test_winsw_log_rotation(rendered: dict[str, str], name: str) -> None:
    root = parse_xml(rendered[name])
    log = root.find("log")
    assert log is not None
    assert log.get("mode") == "roll-by-size"
    assert log.findtext("sizeThreshold") == "10240"
    assert log.findtext("keepFiles") == "8"
    assert root.findtext("logpath") == DATA_DIR + r"\logs"


@pytest.mark.parametrize("name", ["postgres", "redis"])
def test_winsw_xml_has_no_secret(rendered: dict[str, str], name: str) -> None:
    text = rendered[name]
    decoded = "".join(parse_xml(text).itertext()) + " ".join(
        value for element in parse_xml(text).iter() for value in element.attrib.values()
    )
    for password in (POSTGRES_PASSWORD, REDIS_PASSWORD):
        for form in (password, urllib.parse.quote(password, safe="")):
            assert form not in text
            assert form not in decoded


def test_winsw_render_is_stable(rendered: dict[str, str], tmp_path: Path) -> None:
    again = render(tmp_path, {})
    assert again == rendered


def test_winsw_special_characters_escaped(tmp_path: Path) -> None:
    odd = render(tmp_path, {
        "metrics_exporters_windows_install_dir": r'C:\Program Files\wm & "odd" <dir>',
        "metrics_exporters_redis_user": "user name",
    })
    postgres = parse_xml(odd["postgres"])
    arguments = split_windows_command_line(postgres.findtext("arguments") or "")
    expected = r'--extend.query-path=C:\Program Files\wm & "odd" <dir>'
    assert arguments[1] == expected + r"\postgres_exporter\queries.yaml"
    redis = parse_xml(odd["redis"])
    assert "-redis.user=user name" in split_windows_command_line(redis.findtext("arguments") or "")
