"""The app's stacks, composed from the backup_constructs library, one set per environment."""

from stacks.environment import STACK_GROUPS, build_environment

__all__ = ["STACK_GROUPS", "build_environment"]
