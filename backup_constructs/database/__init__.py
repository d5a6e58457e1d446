"""The guide's database settings: props for new RDS instances and clusters, and the Aspect for existing ones."""
