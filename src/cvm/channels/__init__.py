"""cvm.channels"""
