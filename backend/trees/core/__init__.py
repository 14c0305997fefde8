"""The tree engine's pure core: no Django here.

Plain functions over plain data (frozen dataclasses, enums, ``random.Random`` passed in):
a tree's shape and the work it offers (``shape``: the one home of the structural rules),
the work on offer to one user (``work``: leases and the user's history), which task kind
and node next (``policy``, ``candidates``, ``task_kinds``), tree states and
their transitions (``lifecycle``), acceptance and ranking consensus (``consensus``) and the
tree-growth parameters (``config``). Selectors fetch rows and hand them in; services re-check
under a lock by calling the same functions. Nothing in this package may import Django, the
models or the settings, nor any package outside the standard library
(``tests/unit/test_core_is_pure.py``): ``pytest tests/unit`` runs it with no database, and
``mypy`` checks it (strict).
"""
