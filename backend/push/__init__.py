"""Push dispatch: who is waiting for a task, the tasks pushed to them, and their leases.

State lives in Redis (``GROVE_PUSH_REDIS_URL``, default: the channel layer's Redis), so every
web process sees every waiting user. ``keys`` names the keys and holds the Lua scripts that
change them atomically; ``signals`` is the side the services call (a work change, a closed
task); the dispatcher that claims and pushes lives with the websocket consumers
(``frontend_api/ws/dispatch.py``), the lease returns in ``backend.trees.services.push_leases``.
"""
