"""The bundled demo corpus (Spider layout), so ``--db demo`` works with no download.

Rebuild it with ``python -m synth.demo.build_demo``; see ``README.md`` here.
"""
