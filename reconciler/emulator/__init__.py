"""What every provider's emulator is served with: server, middleware, stats, seeds.

Local emulators of the providers' APIs (``reconciler emulator``), served over real HTTP.

Users run them to try a GitOps pipeline without touching production; the project's own tests
talk to them over loopback. ``start_emulator`` is the one way to run one in-process.
"""

from reconciler.emulator.common import EmulatorSettings, EmulatorStats, ManualClock
from reconciler.emulator.running import RunningEmulator, start_emulator
from reconciler.emulator.server import EmulatorServer

__all__ = [
    "EmulatorServer",
    "EmulatorSettings",
    "EmulatorStats",
    "ManualClock",
    "RunningEmulator",
    "start_emulator",
]
