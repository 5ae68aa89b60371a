"""Chart geometry (livestreams/charts/) and the SVG templates behind ``{% load charts %}``."""
