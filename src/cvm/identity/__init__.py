"""cvm.identity"""
