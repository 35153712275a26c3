"""The project's URLs plus viewflow's stock pages for the flow, for ``manage.py bench`` only.

The benchmark compares our pages with the ones viewflow ships (inbox, queue, process list,
kanban dashboard) on the same data. They are mounted here, never in ``config.urls``: the
product does not serve them. The bench uses this module through
``override_settings(ROOT_URLCONF="config.bench_urls")``; viewflow's ``SiteMiddleware``, which
those pages need, is already in MIDDLEWARE (viewflow's AppConfig appends it).

One adaptation, so that the stock pages can render our tasks at all: they link every task to
``flow_task.reverse("index" | "detail" | "assign" | …)``, and our human steps are
``workflow.nodes.StepView``, built on viewflow's URL-less base ``View``. Importing this
module gives StepView those URL names (the ones ``viewflow.workflow.flow.View`` has), all
served by ``workflow.views.step_redirect``, which leads to our step page. Nothing else of
viewflow's pages is changed: their querysets, counts, filters and templates are stock.
"""

from django.urls import path
from viewflow.urls import Site
from viewflow.workflow.flow import FlowAppViewset

from config.urls import urlpatterns as project_urlpatterns
from workflow.flows import ReportFlow
from workflow.nodes import StepView
from workflow.views import step_redirect

_STEP_URL_NAMES = ("index", "detail", "assign", "unassign", "execute")
_base_get_urls = StepView._get_urls


def _step_view_urls(self):  # noqa: ANN001, ANN202 - a Viewset method
    suffixes = {
        "index": "",
        "detail": "detail/",
        "assign": "assign/",
        "unassign": "unassign/",
        "execute": "execute/",
    }
    return [
        *_base_get_urls(self),
        *(
            path(f"<int:process_pk>/{self.name}/<int:task_pk>/{suffixes[name]}", step_redirect, name=name)
            for name in _STEP_URL_NAMES
        ),
    ]


if getattr(StepView._get_urls, "__name__", "") != "_step_view_urls":
    StepView._get_urls = _step_view_urls

site = Site(title="viewflow", viewsets=[FlowAppViewset(ReportFlow, icon="assignment")])

urlpatterns = [*project_urlpatterns, path("viewflow/", site.urls)]
