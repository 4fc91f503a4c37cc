"""Segmentation: typed rule trees (`definition`), one compiler to SQL (`compile`, `plan`),
validation (`validate`, `checks`), stored definitions (`store`), membership over time
(`membership`, `classify`), lifecycle stages (`lifecycle`), built-in segments (`builtin`),
size / preview / export / overlap (`query`), explanations (`explain`) and discovery
(`discover`). See docs/segments.md."""
