"""Streamlit helpers shared by the pages (the library in ``thematic/`` never imports streamlit)."""
