"""Figures and reports: the only place that imports matplotlib and seaborn."""
