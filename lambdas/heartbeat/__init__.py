"""The heartbeat: a row a minute written into the database, so that every restored or replicated copy
says how fresh its data is, independent of the application's traffic."""

from lambdas.heartbeat.writer import PREREQUISITE_SQL, HeartbeatError, newest_heartbeat, write_heartbeat

__all__ = ["PREREQUISITE_SQL", "HeartbeatError", "newest_heartbeat", "write_heartbeat"]
