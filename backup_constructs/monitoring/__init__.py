"""Monitoring and compliance evidence: alerts, alarms, the live RPO monitor, the dashboard, Backup Audit Manager."""
