"""AWS Backup from the policy: the encrypted, deletion-protected vaults, the plan, its selection and copies."""
