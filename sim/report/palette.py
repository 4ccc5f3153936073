"""One colour per meaning, in every chart of the dashboard and of the report.

The Okabe-Ito palette ("Color Universal Design", 2008), safe for every kind of colour
vision. A pathway stage keeps its colour wherever it appears (a resource, its waits, its
failures, its bar in a patient's timeline); black marks a reference (the deadline, the
target, a capacity, observed data); greys are neutral. Open-ended categories (the sites of
a scenario, the runs compared) take :data:`CATEGORIES` in order, named by their legend.
"""

from __future__ import annotations

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
GREY = "#9E9E9E"
DARK_GREY = "#595959"
LIGHT_GREY = "#D0D0D0"

MEANINGS: dict[str, str] = {
    # the patients counted
    "enrolled": OKABE_ITO["sky_blue"],  # screening passed
    "infused": OKABE_ITO["blue"],  # the target reached
    # the pathway's stages and their resources
    "screening": OKABE_ITO["sky_blue"],
    "apheresis": OKABE_ITO["orange"],
    "manufacturing": OKABE_ITO["reddish_purple"],
    "conditioning": OKABE_ITO["yellow"],
    "beds": OKABE_ITO["bluish_green"],
    # losses
    "deteriorated": OKABE_ITO["vermillion"],
    # references
    "reference": OKABE_ITO["black"],
    # neutral
    "neutral": GREY,
    "after the deadline": LIGHT_GREY,
    "beyond the horizon": DARK_GREY,
}
"""The colour of each meaning (see the module's docstring)."""

WAITING = {
    "apheresis": "#F5CE7A",
    "manufacturing": "#E8BDD6",
    "beds": "#8CD9C1",
}
"""A wait for a resource: a light tint of the resource's own colour."""

CATEGORIES = [
    OKABE_ITO[k]
    for k in ("black", "blue", "vermillion", "bluish_green", "reddish_purple", "orange")
]
"""Colours for an open-ended set of categories (runs compared, referring sites), in order;
their legend names them."""


def category_colours(n: int) -> list[str]:
    """The first ``n`` colours of :data:`CATEGORIES` (repeating past its length)."""
    return [CATEGORIES[i % len(CATEGORIES)] for i in range(n)]
