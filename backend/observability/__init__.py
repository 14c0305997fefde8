"""Observability: Prometheus metrics, health probes' readiness, structured logs, request ids.

``metrics`` declares every metric Grove exports and the small functions the services call to
count; ``http`` measures requests; ``scrape`` computes the gauges read from PostgreSQL and
Redis when Prometheus scrapes; ``exposition`` serves them (``/metrics`` on web processes, a
small HTTP server in the worker); ``logs`` writes JSON lines and carries a request id into
the jobs a request sends. See README "Observability".
"""
