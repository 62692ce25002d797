"""Presentation: the Explanation result, rendering (numpy only) and HTML reports."""
