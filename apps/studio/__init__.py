"""The studio: the three apps in a local web page (Gradio), one tab each.

`python -m apps.studio` (see `apps.studio.cli`) loads the jazz, sentiment and dinos bundles once and serves
them on 127.0.0.1. The work of each tab lives in `apps.studio.tabs` (plain Python, no browser), the page in
`apps.studio.page`. Gradio is the optional extra `studio`.
"""
