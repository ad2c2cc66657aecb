"""`ippool-validator exporter`: the IPAM audit on /metrics, refreshed by periodic list and diff.

`reader` lists the cluster (read-only, paged, no watch) and reuses unchanged decoded objects; the audit is
`validator.audit.core.audit`, the same pass as `ippool-validator audit`; `series` turns its result into the
series of docs/metrics.md; `server` runs the loop and serves them.
"""
