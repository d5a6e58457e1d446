"""Logging of the runtime's handlers: the Lambda runtime's root logger defaults to WARNING."""

from __future__ import annotations

import logging
import os


def configure_logging() -> None:
    """In Lambda, log the runtime package at ``LOG_LEVEL`` (default INFO); elsewhere leave logging alone."""
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        logging.getLogger("lambdas").setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
