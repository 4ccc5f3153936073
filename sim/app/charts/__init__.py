"""The dashboard's charts: pure functions, data in, Altair chart out (no Streamlit here).

One chart library (Altair, Vega-Lite) and one colour-blind-safe palette (Okabe and Ito,
"Color Universal Design", 2008) throughout. Time axes show calendar dates (the model counts
days from the scenario's start date); every axis title carries its unit. Each chart has a
table builder beside it (``*_table``) so the numbers drawn can be tested without a browser.

Import the package (``from sim.app import charts``): every public name of its modules is
re-exported here.
"""

from .capacity import (
    RESOURCE_METRICS,
    queue_charts,
    queue_table,
    resource_charts,
    resource_table,
    vein_to_vein_chart,
    vein_to_vein_table,
)
from .facility import facility_chances
from .flow import (
    CONTINUES,
    DETERIORATED,
    FUNNEL_STEPS,
    SEGMENT_COLOURS,
    STEP_LOSS_REASON,
    STOPPED,
    criteria_chart,
    criteria_table,
    funnel_chart,
    funnel_table,
)
from .forecast import (
    FAN_SUBTITLE,
    fan_chart,
    fan_table,
    referrals_chart,
    target_date_chart,
    target_date_table,
)
from .patients import (
    DLT_WINDOW,
    GANTT_STAGES,
    OUTCOME_SHAPES,
    PATHWAY_COLUMNS,
    PHASE1_OUTCOMES,
    PHASE1_WAITS,
    STAGE_COLOURS,
    dlt_table,
    gantt_chart,
    gantt_table,
    outcome_table,
    pathway_animation,
    pathway_table,
    timeline_days,
)
from .planning import (
    compare_fan_chart,
    observed_fan_chart,
    observed_table,
)
from .sensitivity import (
    TORNADO_ENDS,
    TORNADO_ROW_PX,
    tornado_chart,
    tornado_table,
)
from .sizing import (
    HEAT_LOW,
    sizing_heatmap_chart,
    sizing_heatmap_table,
)
from .theme import (
    CYCLE,
    DEADLINE_COLOUR,
    GREY,
    OKABE_ITO,
    RESOURCE_COLOURS,
    RESOURCE_LABELS,
    SERIES_COLOURS,
    as_datetime,
)

__all__ = [
    "CONTINUES",
    "CYCLE",
    "DEADLINE_COLOUR",
    "DETERIORATED",
    "DLT_WINDOW",
    "FAN_SUBTITLE",
    "FUNNEL_STEPS",
    "GANTT_STAGES",
    "GREY",
    "HEAT_LOW",
    "OKABE_ITO",
    "OUTCOME_SHAPES",
    "PATHWAY_COLUMNS",
    "PHASE1_OUTCOMES",
    "PHASE1_WAITS",
    "RESOURCE_COLOURS",
    "RESOURCE_LABELS",
    "RESOURCE_METRICS",
    "SEGMENT_COLOURS",
    "SERIES_COLOURS",
    "STAGE_COLOURS",
    "STEP_LOSS_REASON",
    "STOPPED",
    "TORNADO_ENDS",
    "TORNADO_ROW_PX",
    "as_datetime",
    "compare_fan_chart",
    "criteria_chart",
    "criteria_table",
    "dlt_table",
    "facility_chances",
    "fan_chart",
    "fan_table",
    "funnel_chart",
    "funnel_table",
    "gantt_chart",
    "gantt_table",
    "observed_fan_chart",
    "observed_table",
    "outcome_table",
    "pathway_animation",
    "pathway_table",
    "queue_charts",
    "queue_table",
    "referrals_chart",
    "resource_charts",
    "resource_table",
    "sizing_heatmap_chart",
    "sizing_heatmap_table",
    "target_date_chart",
    "target_date_table",
    "timeline_days",
    "tornado_chart",
    "tornado_table",
    "vein_to_vein_chart",
    "vein_to_vein_table",
]
