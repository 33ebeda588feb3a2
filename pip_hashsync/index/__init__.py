"""Everything read from package indexes: the pooled HTTP client (auth, certificates, retries),
PEP 503/691 pages and find-links parsed into FileLinks, and core metadata (PEP 658 or the
archive). Hands on candidates with their files and metadata to the resolver.
"""
