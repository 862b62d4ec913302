"""File-container bytes: the embedded local store and S3-compatible object storage."""
