"""Synthesis of verified question/SQL data and the single prompt builder. Needs no torch."""
