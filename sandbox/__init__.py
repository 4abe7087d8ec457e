"""Local Signal sandbox: an emulator of signal-cli-rest-api (json-rpc mode) + control API.

Lets the unmodified signalbot run against a fake Signal world that tests and a terminal
demo drive; see docs/sandbox.md.
"""

from sandbox.client import SandboxClient
from sandbox.faults import FaultConfig
from sandbox.models import BotAction, Delivered, Group, InjectResult, Persona
from sandbox.schema import ContractViolation
from sandbox.server import SandboxServer, run_standalone
from sandbox.state import SandboxState

__all__ = [
    "BotAction",
    "ContractViolation",
    "Delivered",
    "FaultConfig",
    "Group",
    "InjectResult",
    "Persona",
    "SandboxClient",
    "SandboxServer",
    "SandboxState",
    "run_standalone",
]
