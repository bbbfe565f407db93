"""Log in as the tunnel user from the controller and report what sshd allows.

verify.yml runs this once and asserts on the JSON it prints. Each check uses
the real OpenSSH client against the container's address on the scenario's
network; nothing here decides pass or fail.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

WAIT_SECONDS = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ssh_base(args: argparse.Namespace, port: int | None = None, agent: str = "none") -> list[str]:
    return [
        "ssh",
        "-F",
        "/dev/null",
        "-i",
        args.key,
        "-p",
        str(port or args.port),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        f"UserKnownHostsFile={args.known_hosts}",
        "-o",
        "ConnectTimeout=10",
        "-o",
        f"IdentityAgent={agent}",
    ]


def run(command: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env=env,
        check=False,
    )
    return {"rc": done.returncode, "stdout": done.stdout, "stderr": done.stderr}


def read_until_closed(sock: socket.socket) -> bytes:
    """Read until the peer closes; ssh resets the connection when sshd refuses the channel."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def forward(args: argparse.Namespace, target: str) -> dict[str, Any]:
    """Open `ssh -N -L` to target, send one HTTP request through it, return the reply."""
    local = free_port()
    command = [
        *ssh_base(args),
        "-N",
        "-o",
        "ExitOnForwardFailure=yes",
        "-L",
        f"127.0.0.1:{local}:{target}",
        f"{args.user}@{args.host}",
    ]
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stderr=stderr)
        reply = b""
        listening = False
        try:
            deadline = time.monotonic() + WAIT_SECONDS
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    with socket.create_connection(("127.0.0.1", local), timeout=10) as sock:
                        listening = True
                        sock.sendall(b"GET /probe HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                        reply = read_until_closed(sock)
                    break
                except ConnectionRefusedError:
                    time.sleep(0.2)
        finally:
            process.terminate()
            process.wait(timeout=10)
        stderr.seek(0)
        return {
            "listening": listening,
            "reply": reply.decode("utf-8", "replace"),
            "stderr": stderr.read().decode("utf-8", "replace"),
        }


def agent_forwarding(args: argparse.Namespace) -> dict[str, Any]:
    """Request agent forwarding from a running agent that contains the tunnel key."""
    with tempfile.TemporaryDirectory() as directory:
        socket_path = str(Path(directory) / "agent.sock")
        agent = subprocess.Popen(["ssh-agent", "-D", "-a", socket_path], stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + WAIT_SECONDS
            while not Path(socket_path).exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            env = {**os.environ, "SSH_AUTH_SOCK": socket_path}
            added = run(["ssh-add", args.key], env=env)
            command = [*ssh_base(args, args.debug_port, agent=socket_path), "-A"]
            result = run([*command, f"{args.user}@{args.host}", "true"], env=env)
            result["ssh_add_rc"] = added["rc"]
            return result
        finally:
            agent.terminate()
            agent.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", required=True, help="server address")
    parser.add_argument("--port", type=int, default=22, help="sshd port")
    parser.add_argument("--user", required=True, help="tunnel user")
    parser.add_argument("--key", required=True, help="private key file of the tunnel user")
    parser.add_argument("--known-hosts", required=True, help="known_hosts file with the host key")
    parser.add_argument(
        "--allowed", nargs="+", default=[], help="host:port targets whose forward must carry data"
    )
    parser.add_argument(
        "--denied", nargs="+", default=[], help="host:port targets whose forward sshd must reject"
    )
    parser.add_argument("--debug-port", type=int, help="port of a one-shot sshd -d instance")
    args = parser.parse_args()

    login = f"{args.user}@{args.host}"
    results: dict[str, Any] = {
        "allowed": {target: forward(args, target) for target in args.allowed},
        "denied": {target: forward(args, target) for target in args.denied},
        "command": run([*ssh_base(args), login, "echo whispermon-command-ran"]),
        "tty": run([*ssh_base(args), "-tt", login]),
        "remote_forward": run(
            [
                *ssh_base(args),
                "-N",
                "-o",
                "ExitOnForwardFailure=yes",
                "-R",
                "127.0.0.1:17022:127.0.0.1:22",
                login,
            ]
        ),
        "password": run(
            [
                *ssh_base(args),
                "-o",
                "PubkeyAuthentication=no",
                "-o",
                "PreferredAuthentications=password,keyboard-interactive",
                login,
                "true",
            ]
        ),
        "root_password": run(
            [
                *ssh_base(args),
                "-o",
                "PubkeyAuthentication=no",
                "-o",
                "PreferredAuthentications=password,keyboard-interactive",
                f"root@{args.host}",
                "true",
            ]
        ),
    }
    if args.debug_port:
        results["agent"] = agent_forwarding(args)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
