"""`ippool-validator audit`: Calico IPAM as it is, from dumps or a live cluster.

Data flows as in lint: readers (`dumps`, `live`) build an `AuditState` (`model`); the pure function
`audit(state, now, policy)` (`core`) counts utilisation in blocks and addresses (`utilisation`), runs the
registry's audit rules over a shared `analysis`, forecasts (`forecast`) and returns an `AuditResult`,
which the report renderers and the exporter turn into text, JSON or metrics.

The rule modules import `checks` from here while the registry is being built, so this package imports
nothing at load time: `from validator.audit.core import audit`.
"""
