"""sshd_config renders for Windows and Debian, checked against each OpenSSH release.

Every algorithm and keyword in a rendering must exist in the release it was
rendered for, so an older sshd (OpenSSH for Windows 7.7 or 8.1) never gets a
name it would reject. A real sshd 9.2 also runs `sshd -T` on every rendering
below 9.9, because it rejects the ML-KEM names that 9.9 adds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TUNNEL_USER = "whispermon-tunnel"

# Algorithms each OpenSSH release's sshd accepts, from the release notes
# (https://www.openssh.com/releasenotes.html). Only the families the role
# chooses from are listed; each entry is cumulative over earlier releases.
_BASE_7_7 = {
    "kex": {
        "curve25519-sha256",
        "curve25519-sha256@libssh.org",
        "diffie-hellman-group16-sha512",
        "diffie-hellman-group18-sha512",
        "diffie-hellman-group14-sha256",
        "ecdh-sha2-nistp256",
        "ecdh-sha2-nistp384",
        "ecdh-sha2-nistp521",
        "diffie-hellman-group-exchange-sha256",
    },
    "ciphers": {
        "chacha20-poly1305@openssh.com",
        "aes256-gcm@openssh.com",
        "aes128-gcm@openssh.com",
        "aes256-ctr",
        "aes192-ctr",
        "aes128-ctr",
    },
    "macs": {
        "hmac-sha2-512-etm@openssh.com",
        "hmac-sha2-256-etm@openssh.com",
        "umac-128-etm@openssh.com",
        "hmac-sha2-512",
        "hmac-sha2-256",
    },
    "hostkey": {"ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256", "ecdsa-sha2-nistp256"},
    "pubkey": {"ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256", "ecdsa-sha2-nistp256"},
}
# Additions: 8.2 security-key types, 8.5 sntrup761x25519, 9.9 ML-KEM and the
# sntrup761 name without a suffix.
_ADDED = {
    "8.2": {"pubkey": {"sk-ssh-ed25519@openssh.com"}},
    "8.5": {"kex": {"sntrup761x25519-sha512@openssh.com"}},
    "9.9": {"kex": {"mlkem768x25519-sha256", "sntrup761x25519-sha512"}},
}
# sshd_config keywords the role may render, with the release that added them.
KEYWORD_SINCE = {
    "permitlisten": "7.8",
    "pubkeyacceptedalgorithms": "8.5",
    "kbdinteractiveauthentication": "8.7",
}
# Keywords removed or renamed later: never render them on a newer release.
KEYWORD_UNTIL = {
    "pubkeyacceptedkeytypes": "8.5",
    "challengeresponseauthentication": "8.7",
}


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def supported(version: str) -> dict[str, set[str]]:
    """Return the algorithms the sshd of a release accepts, per family."""
    result = {family: set(names) for family, names in _BASE_7_7.items()}
    for since, additions in _ADDED.items():
        if version_tuple(since) <= version_tuple(version):
            for family, names in additions.items():
                result[family] |= names
    return result


def directives(text: str) -> dict[str, str]:
    """Return the top-level directives of an sshd_config, lower-cased, before any Match."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        keyword, _, value = stripped.partition(" ")
        if keyword.lower() == "match":
            break
        found.setdefault(keyword.lower(), value.strip())
    return found


def all_keywords(text: str) -> set[str]:
    return {
        line.strip().split()[0].lower()
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("#")
    }


FAMILY_KEYWORDS = {
    "kex": "kexalgorithms",
    "ciphers": "ciphers",
    "macs": "macs",
    "hostkey": "hostkeyalgorithms",
}


def test_algorithms_exist_in_version(rendered: Path, render_case: tuple[str, str]) -> None:
    os_family, version = render_case
    text = (rendered / f"sshd_config-{os_family}-{version}").read_text()
    settings = directives(text)
    known = supported(version)
    pubkey_keyword = (
        "pubkeyacceptedalgorithms"
        if "pubkeyacceptedalgorithms" in settings
        else "pubkeyacceptedkeytypes"
    )
    for family, keyword in [*FAMILY_KEYWORDS.items(), ("pubkey", pubkey_keyword)]:
        names = settings[keyword].split(",")
        assert names, f"{keyword} is empty for OpenSSH {version}"
        unknown = set(names) - known[family]
        assert not unknown, (
            f"{keyword} for OpenSSH {version} lists {sorted(unknown)}, which it lacks"
        )


def test_keywords_exist_in_version(rendered: Path, render_case: tuple[str, str]) -> None:
    os_family, version = render_case
    keywords = all_keywords((rendered / f"sshd_config-{os_family}-{version}").read_text())
    for keyword, since in KEYWORD_SINCE.items():
        if keyword in keywords:
            assert version_tuple(since) <= version_tuple(version), f"{keyword} needs {since}"
    for keyword, until in KEYWORD_UNTIL.items():
        if keyword in keywords:
            assert version_tuple(version) < version_tuple(until), f"{keyword} is renamed in {until}"


@pytest.mark.parametrize(
    ("version", "expected_first_kex"),
    [
        ("7.7", "curve25519-sha256"),
        ("8.1", "curve25519-sha256"),
        ("8.6", "sntrup761x25519-sha512@openssh.com"),
        ("9.5", "sntrup761x25519-sha512@openssh.com"),
    ],
)
def test_windows_kex_preference(rendered: Path, version: str, expected_first_kex: str) -> None:
    settings = directives((rendered / f"sshd_config-Windows-{version}").read_text())
    assert settings["kexalgorithms"].split(",")[0] == expected_first_kex


def test_newest_version_prefers_mlkem(rendered: Path) -> None:
    settings = directives((rendered / "sshd_config-Debian-9.9").read_text())
    assert settings["kexalgorithms"].split(",")[0] == "mlkem768x25519-sha256"


def test_windows_8_1_uses_old_keywords(rendered: Path) -> None:
    keywords = all_keywords((rendered / "sshd_config-Windows-8.1").read_text())
    assert "challengeresponseauthentication" in keywords
    assert "pubkeyacceptedkeytypes" in keywords
    assert "usepam" not in keywords


def test_windows_admin_keys_match_block(rendered: Path) -> None:
    text = (rendered / "sshd_config-Windows-8.1").read_text()
    assert "Match Group administrators" in text
    assert "AuthorizedKeysFile __PROGRAMDATA__/ssh/administrators_authorized_keys" in text
    assert "ForceCommand cmd.exe /d /c exit 1" in text


def test_template_starts_with_managed_comment(rendered: Path) -> None:
    for path in rendered.glob("sshd_config-*"):
        assert path.read_text().startswith("#\n# Ansible managed"), path.name


def test_sshd_accepts_rendering(
    sshd_test: dict[str, dict[str, str]], sshd_case: tuple[str, str]
) -> None:
    os_family, version = sshd_case
    result = sshd_test[f"sshd_config-{os_family}-{version}"]
    for user in (TUNNEL_USER, "operator"):
        assert result[f"{user}.rc"] == "0", result[f"{user}.err"]
        assert "Bad configuration option" not in result[f"{user}.err"]
        assert "Unsupported option" not in result[f"{user}.err"]


def test_sshd_effective_tunnel_settings(
    sshd_test: dict[str, dict[str, str]], sshd_case: tuple[str, str]
) -> None:
    os_family, version = sshd_case
    lines = set(sshd_test[f"sshd_config-{os_family}-{version}"][TUNNEL_USER].splitlines())
    assert "allowtcpforwarding local" in lines
    assert (
        "permitopen 127.0.0.1:8000 127.0.0.1:5555 127.0.0.1:9187 127.0.0.1:9121 127.0.0.1:9182"
        in lines
    )
    assert "permittty no" in lines
    assert "allowagentforwarding no" in lines
    assert "x11forwarding no" in lines
    assert "permittunnel no" in lines
    assert "gatewayports no" in lines
    assert "passwordauthentication no" in lines
    assert "authenticationmethods publickey" in lines
    assert any(line.startswith("forcecommand ") and line != "forcecommand none" for line in lines)


def test_sshd_effective_other_user_settings(
    sshd_test: dict[str, dict[str, str]], sshd_case: tuple[str, str]
) -> None:
    os_family, version = sshd_case
    lines = set(sshd_test[f"sshd_config-{os_family}-{version}"]["operator"].splitlines())
    assert "allowtcpforwarding no" in lines
    assert "allowagentforwarding no" in lines
    assert "passwordauthentication no" in lines
    assert "kbdinteractiveauthentication no" in lines
    assert "permitemptypasswords no" in lines
    assert "permitrootlogin no" in lines
    assert "forcecommand none" in lines


def test_sshd_rejects_broken_config(sshd_test: dict[str, dict[str, str]]) -> None:
    """The sshd -T check itself fails on a bad file (a broken sample rendered beside the others)."""
    result = sshd_test["sshd_config-broken-sample"]
    assert result[f"{TUNNEL_USER}.rc"] != "0"
    assert "no-such-kex" in result[f"{TUNNEL_USER}.err"]
