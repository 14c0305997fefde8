"""Every write of the tree engine: one function per use case, one transaction each."""
