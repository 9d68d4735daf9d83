"""The routes, one Litestar Router per resource. Each module holds its resource's handlers and a
``router``; :data:`ROUTERS` is what the app mounts.

- :mod:`~service.routes.operations` — health and metrics (open);
- :mod:`~service.routes.dimensions` — what the served model knows (partners, families, lines, ...);
- :mod:`~service.routes.forecasts` — forecasts, block buys, questions, systems, suppliers, line risk;
- :mod:`~service.routes.scenarios` — named-system block buys and what-ifs;
- :mod:`~service.routes.basis` and :mod:`~service.routes.why` — what an answer rests on, and why it moved;
- :mod:`~service.routes.records` — uploads of records and texts;
- :mod:`~service.routes.models` — fit jobs, the registry and posterior files;
- :mod:`~service.routes.admin` — keys and the audit trail;
- :mod:`~service.routes.planner` and :mod:`~service.routes.planner_views` — the planner's pages.
"""

from litestar import Router

from service.routes import (
    admin,
    basis,
    dimensions,
    forecasts,
    models,
    operations,
    planner,
    planner_views,
    records,
    scenarios,
    why,
)

ROUTERS: list[Router] = [
    operations.router,
    dimensions.router,
    forecasts.router,
    scenarios.router,
    basis.router,
    why.router,
    records.router,
    models.router,
    admin.router,
    planner.router,
    planner_views.router,
]
