"""The dashboard's Streamlit parts: the sidebar (scenario source, settings form, download)
and one module a tab, each with a ``view`` of the current run (None before a run)."""
