"""Pulumi components, one per concept: each takes one validated model object and declares its
resources as children (`parent=self`), ending with `register_outputs`."""
