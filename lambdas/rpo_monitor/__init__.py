"""The live RPO monitor: data-loss exposure, recovery point and configuration backup ages, as metrics."""
