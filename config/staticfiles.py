"""Which static files ``collectstatic`` collects: ours, the admin's and guardian's; not viewflow's.

In production (DEBUG=0) the pages name static files by their hashed names, read from the
manifest that ``collectstatic`` writes with WhiteNoise's ``CompressedManifestStaticFilesStorage``
(gzip and Brotli copies beside each file). ``collectstatic`` rewrites every ``url(...)`` in
every CSS file it collects and stops (exit 1, no manifest, so every page then fails on
"Missing staticfiles manifest entry") when one names a file that does not exist.

django-viewflow 2.4 ships 51 MB of static files for its own Material front end, which this
product never serves (our pages are our templates; viewflow's stock pages are mounted only by
``manage.py bench``, in-process, never fetching a static file). Among them is a stray copy of
``roboto-fontface.css`` under ``viewflow/fonts/roboto/node_modules/roboto-fontface/css/roboto/``
whose ``url('./Roboto-Thin.woff2')`` names fonts that are not beside it: that is what made
``collectstatic`` fail. Leaving viewflow's static files out fixes that for good (the next
viewflow release cannot break the deployment with another such file) and cuts
``collectstatic`` from ~100 s to a few seconds (Brotli-compressing 51 MB was most of it).
The other choice, a storage that tolerates missing references in third-party CSS, would have
kept 51 MB of unused files and the time to compress them.

If a page ever needs one of viewflow's files, the production-path check (``make deploy-check``)
fails on it: that page answers 500 with "Missing staticfiles manifest entry".
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib.staticfiles.finders import AppDirectoriesFinder

# Apps whose ``static/`` directory no page of the product loads.
UNSERVED_STATIC_APPS = frozenset({"viewflow"})


class ProductAppDirectoriesFinder(AppDirectoriesFinder):
    """Django's ``AppDirectoriesFinder`` over every installed app but ``UNSERVED_STATIC_APPS``."""

    def __init__(self, app_names: Any = None, *args: Any, **kwargs: Any) -> None:
        if app_names is None:
            app_names = [c.name for c in apps.get_app_configs() if c.name not in UNSERVED_STATIC_APPS]
        super().__init__(app_names, *args, **kwargs)
