"""``whispermon lab``: bring the local lab up, show it, take it down."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from whispermon.lab import images, topology
from whispermon.lab.engine import ensure_engine
from whispermon.project import find_project_dir, state_dir

app = typer.Typer(
    help="Run the local lab: Debian containers that stand in for the servers and the Mac.",
    no_args_is_help=True,
)
console = Console()


@app.command()
def up() -> None:
    """Build the lab images if needed and start the servers and the workstation."""
    record = topology.up(find_project_dir(), state_dir())
    word = "started" if record["changed"] else "already running, nothing changed"
    console.print(f"Lab {word}: {', '.join(record['containers'])}.")
    console.print("Converge it with: whispermon deploy -i inventory/lab")
    console.print("Prometheus (after deploy): http://127.0.0.1:9090")
    if record["images"]["grafana"] is None:
        console.print("Grafana: no image can be pulled here, so the lab runs without Grafana.")
    else:
        console.print("Grafana (after deploy): http://127.0.0.1:3000")


@app.command()
def status(
    json_output: bool = typer.Option(False, "--json", help="Print the status as JSON."),
) -> None:
    """Show the lab's containers and the monitoring stack, and whether Grafana is part of it."""
    ensure_engine(topology.lab_state_dir(state_dir()), install=False)
    rows = topology.status()
    stack = topology.monitoring_containers()
    record_path = topology.lab_state_dir(state_dir()) / "lab.json"
    record = json.loads(record_path.read_text()) if record_path.exists() else {}
    grafana = (record.get("images") or {}).get("grafana")
    if json_output:
        console.print_json(
            json.dumps(
                {
                    "containers": [vars(row) for row in rows],
                    "monitoring": [vars(row) for row in stack],
                    "grafana_image": grafana,
                }
            )
        )
        return
    if not rows:
        console.print("The lab is down. Start it with: whispermon lab up")
        return
    table = Table("host", "container", "state", "image")
    for row in rows + stack:
        table.add_row(row.host, row.name, row.state, row.image)
    console.print(table)
    if record and grafana is None:
        console.print("Grafana: not part of this lab (no Grafana image could be pulled).")


@app.command()
def down(
    images: bool = typer.Option(False, "--images", help="Also remove the lab's images."),
) -> None:
    """Remove the lab's containers, network, volumes and state, and nothing else."""
    ensure_engine(topology.lab_state_dir(state_dir()), install=False)
    removed = topology.down(state_dir(), remove_images=images)
    if removed:
        console.print(f"Removed {len(removed)} lab objects.")
    else:
        console.print("Nothing to remove: the lab is down.")


@app.command()
def engine() -> None:
    """Make sure a Docker engine and Compose v2 respond (installs docker.io as root on Debian)."""
    ensure_engine(topology.lab_state_dir(state_dir()))
    console.print("Docker engine and Compose v2 respond.")


@app.command()
def build() -> None:
    """Build the lab images, reusing each one whose recipe has not changed."""
    state = topology.lab_state_dir(state_dir())
    ensure_engine(state)
    built = images.build_all(find_project_dir(), state / "build")
    console.print(f"Lab images ready: {built.base}, {built.server}, {built.prometheus}.")
    if built.grafana is None:
        console.print("Grafana: no image can be pulled here, so the lab runs without Grafana.")
