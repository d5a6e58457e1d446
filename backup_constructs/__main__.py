"""``python -m backup_constructs`` runs the ``backupctl`` CLI."""

import sys

from backup_constructs.cli.main import main

sys.exit(main())
