"""The app's stacks, composed from the backup_constructs library, one set per environment."""

from stacks.environment import build_environment

__all__ = ["build_environment"]
