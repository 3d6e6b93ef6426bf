"""Fetch stage of the county social-infrastructure measures: CHR&R 2025 per-measure files (library access,
broadband, child care centers, homeownership, single-parent households, residential segregation) into
``data/raw/places_infrastructure`` (registry key ``study: places_infrastructure`` in data/sources.yaml). A stage of
its own so that the county study's fetch (``data/raw/places``) and everything downstream of it are unchanged."""

from __future__ import annotations

from analysis.core.fetch import fetch_study

STUDY_KEY = "places_infrastructure"


def stage() -> str:
    """DVC stage ``fetch_places_infrastructure``."""
    return fetch_study(STUDY_KEY, [STUDY_KEY])
