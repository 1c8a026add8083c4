"""Dash pages: one module per page (register_page + layout), shared parts in _modules."""
