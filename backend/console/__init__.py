"""The operations console's data: what staff see at ``/console/`` (the funnel of tree states,
work against waiting volunteers, task rates, latency, queues, the journal) and the per-minute
snapshots its charts are drawn from. Reads only, except the snapshot job."""
