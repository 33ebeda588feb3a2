"""Choosing what to install: the resolvelib provider where every file policy lives (tags,
Requires-Python, format options, yanked, allowed hashes), exact-pin resolution, diagnostics
when nothing fits, and the plan. Hands on keep/install/replace/remove actions with reasons.
"""
