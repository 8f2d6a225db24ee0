"""Reproducible benchmarks of aiofeishu against json.loads, pydantic v2, raw aiohttp and lark-oapi.

``python -m benchmarks`` runs them all and writes ``benchmarks/RESULTS.md``;
``python -m benchmarks --smoke`` is the seconds-long CI mode (tiny sizes, no thresholds);
``python -m benchmarks.<name>`` runs one of them (decode, import_cost, overhead, quota, streaming).
"""
