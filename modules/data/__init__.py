"""Data tier: database, cache, S3 buckets, CDN, backup and disaster recovery, composed by `modules.data.tier`."""
