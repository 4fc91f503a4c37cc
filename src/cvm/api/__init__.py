"""cvm.api"""
