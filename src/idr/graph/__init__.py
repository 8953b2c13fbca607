"""Exact connected components over dense integer node ids (in-process or in-SQL)."""

from idr.graph.components import STRATEGIES, Components, connected_components

__all__ = ["STRATEGIES", "Components", "connected_components"]
