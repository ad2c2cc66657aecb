"""The validating admission webhook: judges one change against a cached cluster state.

Layout: `routes` (paths and judged resources, as data), `admission` (AdmissionReview in and out),
`snapshot` and `delta` (the cached state and "the state with one object changed"), `decision` (before/after
findings), `state` and `kube` (where the state comes from), `metrics`, `app` (Flask) and `server` (gunicorn
with TLS). Nothing outside this package imports it; the CLI's `serve` imports it lazily.
"""
