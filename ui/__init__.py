"""Helpers shared by the pages: translation, charts, downloads. Pages import this; the core never does."""
