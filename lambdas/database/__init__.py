"""Database operations for the operator CLI: on-demand backups, restore planning and restores."""
