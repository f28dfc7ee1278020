"""AWS adapters: a DynamoDB catalog, an S3 blob store, Lambda handlers and Batch entrypoints.

Each adapter turns an event or a job's environment into a call on the same `Pipeline` and
stages that run on a laptop; nothing here decides how a stage works.
"""
