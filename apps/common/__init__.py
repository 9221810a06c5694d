"""Plumbing written once and shared by the three apps (see DESIGN.md): cells, sampling, bundles, export, CLI."""
