"""A faithful local simulator of RingCentral's High Volume SMS API, for demos, tests and
benchmarks. ``a2p simulate`` serves it; ``start_simulator`` runs it in-process."""

from engine.simulator.app import create_app
from engine.simulator.server import RunningSimulator, SimulatorThread, start_simulator
from engine.simulator.settings import (
    FaultSettings,
    GroupLimit,
    SimulatorSettings,
    load_simulator_settings,
)
from engine.simulator.state import SIMULATOR, Simulator

__all__ = [
    "SIMULATOR",
    "FaultSettings",
    "GroupLimit",
    "RunningSimulator",
    "Simulator",
    "SimulatorSettings",
    "SimulatorThread",
    "create_app",
    "load_simulator_settings",
    "start_simulator",
]
