"""``backupctl``, the operator CLI. Its non-synth commands never load aws_cdk."""

from backup_constructs.cli.main import main

__all__ = ["main"]
