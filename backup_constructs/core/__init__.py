"""Building blocks every construct uses: Lambda bundling and the function factory, log groups, buckets, keys,
alarms, IAM statements, cdk-nag acknowledgements, the physical-name check, service-linked roles."""
