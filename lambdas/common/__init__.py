"""Shared runtime plumbing: cached AWS clients and error codes, logging, fast YAML."""
