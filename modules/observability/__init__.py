"""Observability tier: alerting topics, monitoring, tracing, SLOs (with the health canary) and cost, composed by
`modules.observability.tier`."""
