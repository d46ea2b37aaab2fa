"""smconnect's public Python API: SageMaker Studio spaces from scripts, notebooks and CI.

Exactly the names of ``bridge.api.__all__``, re-exported; user code imports only this module.
See ``docs/api.md`` and the "Scripting smconnect" section of the user guide.
"""

from bridge import __version__ as __version__
from bridge.api import *  # noqa: F403
