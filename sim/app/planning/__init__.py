"""The planning tools of the dashboard, without Streamlit: capacity sizing, sensitivity
and the forecast from observed data (each returns plain data, so the app can cache it)."""
