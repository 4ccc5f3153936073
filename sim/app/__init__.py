"""The dashboard's parts, the only subpackage that may import Streamlit and Altair.

Without Streamlit: ``form`` (the inputs, built from the scenario's schema), ``submit`` (the
form's values to a validated scenario), ``sources`` (where each value comes from),
``tables`` (the sites and criteria tables), ``views`` (runs to draw, in words),
``planning`` (sizing, sensitivity and the forecast from observed data) and ``charts``.
With it: ``session`` (the session's state), ``cache`` (the cached runs and their progress
bar) and ``pages`` (the sidebar and one module a tab), which ``app.py`` puts on the page.
"""
