"""The Kubernetes API client (kubeconfig, EKS tokens, apply, restart) and the object handling of backups."""
