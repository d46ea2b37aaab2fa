"""Space runtimes: what runs inside an emulated SageMaker app, reachable only through the agent."""

from bridge.emulator.runtime.address import Address
from bridge.emulator.runtime.jupyter import JupyterStartError
from bridge.emulator.runtime.space import SpaceRuntime

__all__ = ["Address", "JupyterStartError", "SpaceRuntime"]
