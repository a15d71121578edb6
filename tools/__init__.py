"""Tools that make the repository's assets and figures; nothing at run time imports them."""
