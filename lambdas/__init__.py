"""Runtime code of the Lambda functions (never imports aws_cdk)."""
