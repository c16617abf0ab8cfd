"""`grid agent`: a long-running reconciler that keeps one hub (a region, or several) true to a spec in git.

config (what to follow and how), source (git fetch, signature check, a fixed tree per commit), policy (what a
tick does: apply, drift-only, plan-approval), loop (the ticks, leases, back-off, stop), lease/metrics/http
(one active agent per region, Prometheus metrics, /healthz).
"""
