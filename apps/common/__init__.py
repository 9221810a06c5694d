"""Plumbing written once and shared by the three apps (README.md, "Folders"): cells, sampling, bundles, export, CLI."""
