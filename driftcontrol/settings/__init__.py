"""DriftControl settings, driven by environment variables.

The defaults give the embedded mode (one machine, SQLite, a broker kept in files under
``var/``); production sets DATABASE_URL and CELERY_BROKER_URL. The README lists every
variable; ``driftcontrol.env.KNOWN`` holds the same list at run time.

Each part reads its own variables and imports from another part what it builds on.
"""

from driftcontrol.settings.admission import *  # noqa: F403
from driftcontrol.settings.alignment import *  # noqa: F403
from driftcontrol.settings.api import *  # noqa: F403
from driftcontrol.settings.celery import *  # noqa: F403
from driftcontrol.settings.core import *  # noqa: F403
from driftcontrol.settings.credentials import *  # noqa: F403
from driftcontrol.settings.detection import *  # noqa: F403
from driftcontrol.settings.security import *  # noqa: F403
from driftcontrol.settings.sources import *  # noqa: F403
