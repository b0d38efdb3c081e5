"""Recipes turned on or off from the dashboard, over the mapping file (issue 11).

Every part of a running service (the workers' follow-ups and milestones, the recipe engine,
the outbound pump, the dashboard) holds the same `MappingConfig` of a connection and reads its
`recipes` at each use, so replacing one entry there switches the recipe for all of them at
once; the store keeps the switch, and `tnhl run` applies it again at start.
"""

from __future__ import annotations

from collections.abc import Mapping

from tnhl.mapping import MappingConfig

__all__ = ["switch_recipes"]


def switch_recipes(mapping: MappingConfig, switches: Mapping[str, bool]) -> list[str]:
    """Set each named recipe on or off in `mapping`; the names it does not have (a recipe
    since removed from the file) are returned, and nothing is done for them."""
    unknown = []
    for name, on in switches.items():
        recipe = mapping.recipes.get(name)
        if recipe is None:
            unknown.append(name)
        elif recipe.enabled != on:
            mapping.recipes[name] = recipe.model_copy(update={"enabled": on})
    return unknown
