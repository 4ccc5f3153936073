"""The dashboard's parts: the form built from the schema, the views' data, the charts and
the Streamlit pages. The only subpackage that may import Streamlit."""
