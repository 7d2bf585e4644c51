"""Rendering to images and HTML: charts drawn by matplotlib, and the self-contained HTML report.

``figures.py`` holds the matplotlib plumbing (the Agg canvas, no ``pyplot``; deterministic PNG and
SVG bytes), ``charts.py`` the forecast panels and the mutations' interval plot, ``dag.py`` the
recipe's DAG before and after a plan, ``page.py`` the HTML page. matplotlib is imported inside the
functions that draw, so importing this package costs nothing until a chart is drawn.
"""
