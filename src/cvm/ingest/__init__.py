"""cvm.ingest"""
